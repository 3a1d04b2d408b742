// Linked into every executable of the ThreadSanitizer build only (CMakeLists.txt:
// INPLACED_SANITIZER=thread), never into a normal or AddressSanitizer build.
//
// Debian's abseil is not built with TSan: absl::Mutex, absl::CondVar and absl::Notification work on
// atomics and futexes inside libabsl_synchronization.so, where TSan sees nothing, so to TSan two
// threads taking turns under one absl::Mutex would look unsynchronised and every member an
// absl::Mutex guards would be reported as a race. This file interposes the out-of-line entry points
// of those classes (the executable's definitions win over the shared library's, for our calls and,
// through the PLT, for abseil's and gRPC's own calls), calls the real ones (dlsym RTLD_NEXT) and tells
// TSan the happens-before edges they make: a lock or a wake-up acquires the mutex, an unlock or a
// wait releases it. A race TSan reports in inplaced's code is then a real one.

#include <sanitizer/tsan_interface.h>

#include <atomic>
#include <string>

#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "absl/time/time.h"
#include "tests/support/tsan_real_symbol.h"

#define INPLACED_TSAN_STR2(x) #x
#define INPLACED_TSAN_STR(x) INPLACED_TSAN_STR2(x)

namespace {

// The real function in the next object after this executable (libabsl_synchronization.so), by its
// mangled name: "_ZN" (or "_ZNK" for a const member) "4absl", abseil's inline namespace, `rest`.
template <typename Function>
Function Real(bool const_member, const char* rest) {
  std::string symbol = const_member ? "_ZNK4absl" : "_ZN4absl";
#if ABSL_OPTION_USE_INLINE_NAMESPACE
  const std::string inline_namespace = INPLACED_TSAN_STR(ABSL_OPTION_INLINE_NAMESPACE_NAME);
  symbol += std::to_string(inline_namespace.size()) + inline_namespace;
#endif
  symbol += rest;
  return inplaced::testing::RealSymbol<Function>(symbol.c_str());
}

// The mutex whose conditions this thread may evaluate right now (inside Unlock, Await, LockWhen or a
// CondVar wait): Condition::Eval reads what that mutex guards.
thread_local const absl::Mutex* evaluating_under = nullptr;

class EvaluatingUnder {
 public:
  explicit EvaluatingUnder(const absl::Mutex* mu) : previous_(evaluating_under) {
    evaluating_under = mu;
  }
  ~EvaluatingUnder() { evaluating_under = previous_; }
  EvaluatingUnder(const EvaluatingUnder&) = delete;
  EvaluatingUnder& operator=(const EvaluatingUnder&) = delete;

 private:
  const absl::Mutex* previous_;
};

void Acquire(const void* address) { __tsan_acquire(const_cast<void*>(address)); }
void Release(const void* address) { __tsan_release(const_cast<void*>(address)); }

using MutexCall = void (*)(absl::Mutex*);
using MutexTry = bool (*)(absl::Mutex*);
using MutexWhen = void (*)(absl::Mutex*, const absl::Condition&);
using MutexWhenTimeout = bool (*)(absl::Mutex*, const absl::Condition&, absl::Duration);
using MutexWhenDeadline = bool (*)(absl::Mutex*, const absl::Condition&, absl::Time);

// A lock (or a wait that ends holding the mutex): acquires what the last unlock released.
void Locked(const absl::Mutex* mu) { Acquire(mu); }
// An unlock (or a wait that lets go of the mutex): releases what this thread did under it.
void Unlocking(const absl::Mutex* mu) { Release(mu); }

}  // namespace

namespace absl {
ABSL_NAMESPACE_BEGIN

void Mutex::Lock() {
  static const auto real = Real<MutexCall>(false, "5Mutex4LockEv");
  real(this);
  Locked(this);
}

void Mutex::ReaderLock() {
  static const auto real = Real<MutexCall>(false, "5Mutex10ReaderLockEv");
  real(this);
  Locked(this);
}

bool Mutex::TryLock() {
  static const auto real = Real<MutexTry>(false, "5Mutex7TryLockEv");
  const bool locked = real(this);
  if (locked) Locked(this);
  return locked;
}

bool Mutex::ReaderTryLock() {
  static const auto real = Real<MutexTry>(false, "5Mutex13ReaderTryLockEv");
  const bool locked = real(this);
  if (locked) Locked(this);
  return locked;
}

void Mutex::Unlock() {
  static const auto real = Real<MutexCall>(false, "5Mutex6UnlockEv");
  Unlocking(this);
  EvaluatingUnder evaluating(this);  // the unlock evaluates the waiters' conditions
  real(this);
}

void Mutex::ReaderUnlock() {
  static const auto real = Real<MutexCall>(false, "5Mutex12ReaderUnlockEv");
  Unlocking(this);
  EvaluatingUnder evaluating(this);
  real(this);
}

void Mutex::LockWhen(const Condition& cond) {
  static const auto real = Real<MutexWhen>(false, "5Mutex8LockWhenERKNS0_9ConditionE");
  EvaluatingUnder evaluating(this);
  real(this, cond);
  Locked(this);
}

void Mutex::ReaderLockWhen(const Condition& cond) {
  static const auto real = Real<MutexWhen>(false, "5Mutex14ReaderLockWhenERKNS0_9ConditionE");
  EvaluatingUnder evaluating(this);
  real(this, cond);
  Locked(this);
}

bool Mutex::LockWhenWithTimeout(const Condition& cond, absl::Duration timeout) {
  static const auto real =
      Real<MutexWhenTimeout>(false, "5Mutex19LockWhenWithTimeoutERKNS0_9ConditionENS0_8DurationE");
  EvaluatingUnder evaluating(this);
  const bool met = real(this, cond, timeout);
  Locked(this);  // held whether or not the condition was met
  return met;
}

bool Mutex::ReaderLockWhenWithTimeout(const Condition& cond, absl::Duration timeout) {
  static const auto real = Real<MutexWhenTimeout>(
      false, "5Mutex25ReaderLockWhenWithTimeoutERKNS0_9ConditionENS0_8DurationE");
  EvaluatingUnder evaluating(this);
  const bool met = real(this, cond, timeout);
  Locked(this);
  return met;
}

bool Mutex::LockWhenWithDeadline(const Condition& cond, absl::Time deadline) {
  static const auto real =
      Real<MutexWhenDeadline>(false, "5Mutex20LockWhenWithDeadlineERKNS0_9ConditionENS0_4TimeE");
  EvaluatingUnder evaluating(this);
  const bool met = real(this, cond, deadline);
  Locked(this);
  return met;
}

bool Mutex::ReaderLockWhenWithDeadline(const Condition& cond, absl::Time deadline) {
  static const auto real = Real<MutexWhenDeadline>(
      false, "5Mutex26ReaderLockWhenWithDeadlineERKNS0_9ConditionENS0_4TimeE");
  EvaluatingUnder evaluating(this);
  const bool met = real(this, cond, deadline);
  Locked(this);
  return met;
}

void Mutex::Await(const Condition& cond) {
  static const auto real = Real<MutexWhen>(false, "5Mutex5AwaitERKNS0_9ConditionE");
  Unlocking(this);
  EvaluatingUnder evaluating(this);
  real(this, cond);
  Locked(this);
}

bool Mutex::AwaitWithTimeout(const Condition& cond, absl::Duration timeout) {
  static const auto real =
      Real<MutexWhenTimeout>(false, "5Mutex16AwaitWithTimeoutERKNS0_9ConditionENS0_8DurationE");
  Unlocking(this);
  EvaluatingUnder evaluating(this);
  const bool met = real(this, cond, timeout);
  Locked(this);
  return met;
}

bool Mutex::AwaitWithDeadline(const Condition& cond, absl::Time deadline) {
  static const auto real =
      Real<MutexWhenDeadline>(false, "5Mutex17AwaitWithDeadlineERKNS0_9ConditionENS0_4TimeE");
  Unlocking(this);
  EvaluatingUnder evaluating(this);
  const bool met = real(this, cond, deadline);
  Locked(this);
  return met;
}

void CondVar::Wait(Mutex* mu) {
  static const auto real = Real<void (*)(CondVar*, Mutex*)>(false, "7CondVar4WaitEPNS0_5MutexE");
  Unlocking(mu);
  real(this, mu);
  Locked(mu);
}

bool CondVar::WaitWithTimeout(Mutex* mu, absl::Duration timeout) {
  static const auto real = Real<bool (*)(CondVar*, Mutex*, absl::Duration)>(
      false, "7CondVar15WaitWithTimeoutEPNS0_5MutexENS0_8DurationE");
  Unlocking(mu);
  const bool timed_out = real(this, mu, timeout);
  Locked(mu);
  return timed_out;
}

bool CondVar::WaitWithDeadline(Mutex* mu, absl::Time deadline) {
  static const auto real = Real<bool (*)(CondVar*, Mutex*, absl::Time)>(
      false, "7CondVar16WaitWithDeadlineEPNS0_5MutexENS0_4TimeE");
  Unlocking(mu);
  const bool timed_out = real(this, mu, deadline);
  Locked(mu);
  return timed_out;
}

// A condition is evaluated with its mutex held, by the waiter or by the thread unlocking: it reads
// what the mutex guards, and its reads come before what the waiter does once woken.
bool Condition::Eval() const {
  static const auto real = Real<bool (*)(const Condition*)>(true, "9Condition4EvalEv");
  const Mutex* mu = evaluating_under;
  if (mu != nullptr) Acquire(mu);
  const bool met = real(this);
  if (mu != nullptr) Release(mu);
  return met;
}

// HasBeenNotified() (inline, instrumented) is an acquire load of the flag, which Notify() stores in
// the library, where TSan does not see it: the release on the flag is told here.
void Notification::Notify() {
  static const auto real = Real<void (*)(Notification*)>(false, "12Notification6NotifyEv");
  Release(&notified_yet_);
  real(this);
}

// The waits may see the flag set without taking the mutex: a notified return acquires the flag.
void Notification::WaitForNotification() const {
  static const auto real =
      Real<void (*)(const Notification*)>(true, "12Notification19WaitForNotificationEv");
  real(this);
  Acquire(&notified_yet_);
}

bool Notification::WaitForNotificationWithTimeout(absl::Duration timeout) const {
  static const auto real = Real<bool (*)(const Notification*, absl::Duration)>(
      true, "12Notification30WaitForNotificationWithTimeoutENS0_8DurationE");
  const bool notified = real(this, timeout);
  if (notified) Acquire(&notified_yet_);
  return notified;
}

bool Notification::WaitForNotificationWithDeadline(absl::Time deadline) const {
  static const auto real = Real<bool (*)(const Notification*, absl::Time)>(
      true, "12Notification31WaitForNotificationWithDeadlineENS0_4TimeE");
  const bool notified = real(this, deadline);
  if (notified) Acquire(&notified_yet_);
  return notified;
}

ABSL_NAMESPACE_END
}  // namespace absl
