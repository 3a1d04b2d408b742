#pragma once

// EachOf: a watch's initial state given as a list, for tests.

#include <utility>
#include <vector>

#include "common/watch_fanout.h"

namespace inplaced::testing {

// A ForEachObject visiting `objects` in order.
template <typename T>
ForEachObject<T> EachOf(std::vector<T> objects) {
  return [objects = std::move(objects)](const auto& visit) {
    for (const T& object : objects) visit(object);
  };
}

}  // namespace inplaced::testing
