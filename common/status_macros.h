#pragma once

// RETURN_IF_ERROR and ASSIGN_OR_RETURN, which the installed abseil (20220623) does not ship.

#include "absl/status/status.h"
#include "absl/status/statusor.h"

#define INPLACED_STATUS_CONCAT_INNER(a, b) a##b
#define INPLACED_STATUS_CONCAT(a, b) INPLACED_STATUS_CONCAT_INNER(a, b)

// Returns the status of `expr` from the enclosing function when it is not OK.
#define RETURN_IF_ERROR(expr)                            \
  do {                                                   \
    const ::absl::Status inplaced_status_ = (expr);      \
    if (!inplaced_status_.ok()) return inplaced_status_; \
  } while (false)

// ASSIGN_OR_RETURN(lhs, expr): evaluates the StatusOr `expr`; returns its status when not OK, else
// moves its value into `lhs` (which may declare a variable: `ASSIGN_OR_RETURN(auto x, Foo())`).
#define ASSIGN_OR_RETURN(lhs, expr) \
  INPLACED_ASSIGN_OR_RETURN_IMPL(INPLACED_STATUS_CONCAT(inplaced_statusor_, __LINE__), lhs, expr)

#define INPLACED_ASSIGN_OR_RETURN_IMPL(statusor, lhs, expr) \
  auto statusor = (expr);                                   \
  if (!statusor.ok()) return std::move(statusor).status();  \
  lhs = std::move(statusor).value()
