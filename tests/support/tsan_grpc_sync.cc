// Linked into every executable of the ThreadSanitizer build only (CMakeLists.txt:
// INPLACED_SANITIZER=thread), beside tsan_absl_sync.cc.
//
// gRPC's C++ API is header templates compiled into inplaced: an op set (and a callback tag, a server
// reactor's write, a unary call's response) is filled on the thread that starts the batch, handed to
// libgrpc with a tag, and finished on the thread that takes the tag's completion off a completion
// queue (for the callback API, gRPC++'s callback threads). The handover happens inside the
// uninstrumented libgrpc, through atomics TSan does not see, so every access the templates make on
// both sides would look like a race. This file interposes the C entry points that start a tag's
// operation and those that hand a completed tag out (the executable's definitions win, for our calls
// and, through the PLT, for gRPC++'s own), calls the real ones (RealSymbol) and tells TSan the
// edge gRPC guarantees: everything before the start of an operation happens before its completion
// is handled.

#include <grpc/grpc.h>
#include <sanitizer/tsan_interface.h>

#include "tests/support/tsan_real_symbol.h"

namespace {

using ::inplaced::testing::RealSymbol;

// The start of an operation: what this thread wrote for it is released on its tag.
void Starting(void* tag) { __tsan_release(tag); }

// A completion taken off a queue: the thread handling it acquires what the start released.
grpc_event Completed(grpc_event event) {
  if (event.type == GRPC_OP_COMPLETE) __tsan_acquire(event.tag);
  return event;
}

}  // namespace

extern "C" {

grpc_call_error grpc_call_start_batch(grpc_call* call, const grpc_op* ops, size_t nops, void* tag,
                                      void* reserved) {
  static const auto real =
      RealSymbol<grpc_call_error (*)(grpc_call*, const grpc_op*, size_t, void*, void*)>(
          "grpc_call_start_batch");
  Starting(tag);
  return real(call, ops, nops, tag, reserved);
}

grpc_call_error grpc_server_request_call(grpc_server* server, grpc_call** call,
                                         grpc_call_details* details,
                                         grpc_metadata_array* request_metadata,
                                         grpc_completion_queue* cq_bound_to_call,
                                         grpc_completion_queue* cq_for_notification, void* tag) {
  static const auto real = RealSymbol<grpc_call_error (*)(
      grpc_server*, grpc_call**, grpc_call_details*, grpc_metadata_array*, grpc_completion_queue*,
      grpc_completion_queue*, void*)>("grpc_server_request_call");
  Starting(tag);
  return real(server, call, details, request_metadata, cq_bound_to_call, cq_for_notification, tag);
}

grpc_call_error grpc_server_request_registered_call(grpc_server* server, void* registered_method,
                                                    grpc_call** call, gpr_timespec* deadline,
                                                    grpc_metadata_array* request_metadata,
                                                    grpc_byte_buffer** optional_payload,
                                                    grpc_completion_queue* cq_bound_to_call,
                                                    grpc_completion_queue* cq_for_notification,
                                                    void* tag) {
  static const auto real = RealSymbol<grpc_call_error (*)(
      grpc_server*, void*, grpc_call**, gpr_timespec*, grpc_metadata_array*, grpc_byte_buffer**,
      grpc_completion_queue*, grpc_completion_queue*, void*)>(
      "grpc_server_request_registered_call");
  Starting(tag);
  return real(server, registered_method, call, deadline, request_metadata, optional_payload,
              cq_bound_to_call, cq_for_notification, tag);
}

grpc_event grpc_completion_queue_next(grpc_completion_queue* cq, gpr_timespec deadline,
                                      void* reserved) {
  static const auto real = RealSymbol<grpc_event (*)(grpc_completion_queue*, gpr_timespec, void*)>(
      "grpc_completion_queue_next");
  return Completed(real(cq, deadline, reserved));
}

grpc_event grpc_completion_queue_pluck(grpc_completion_queue* cq, void* tag, gpr_timespec deadline,
                                       void* reserved) {
  static const auto real =
      RealSymbol<grpc_event (*)(grpc_completion_queue*, void*, gpr_timespec, void*)>(
          "grpc_completion_queue_pluck");
  return Completed(real(cq, tag, deadline, reserved));
}

}  // extern "C"
