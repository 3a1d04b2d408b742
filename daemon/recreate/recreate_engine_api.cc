#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "common/field_checks.h"
#include "common/log_safe.h"
#include "common/proto_time.h"
#include "common/status_macros.h"
#include "cri/snapshot.h"
#include "daemon/recreate/page_token.h"
#include "daemon/recreate/recreate_engine.h"
#include "spdlog/spdlog.h"

// The recreate engine's RecreateManager methods: validate, answer from memory under the lock; a
// change is made and published under the lock and returned once its write is durable.

namespace inplaced::daemon {
namespace {

namespace api = ::inplaced::v1;
namespace internal = ::inplaced::internal;

// The node as Create needs it for the status context "at acceptance": the pod's own lists when
// kubelet labelled its sandbox and containers (O(pod): a thousand Creates do not each copy the
// whole node), else, when the pod or a named container is not in them, one whole-node snapshot.
absl::StatusOr<cri::NodeSnapshot> AcceptanceSnapshot(
    cri::Runtime& runtime, const api::CreateRecreateRequestRequest& request) {
  absl::StatusOr<cri::NodeSnapshot> pod_only =
      cri::TakePodSnapshot(runtime, request.namespace_(), request.spec().pod_name());
  if (pod_only.ok()) {
    api::RecreateRequest probe;
    probe.mutable_metadata()->set_namespace_(request.namespace_());
    *probe.mutable_spec() = request.spec();
    const cri::PodInfo* pod = FindRequestPod(probe, *pod_only);
    bool complete = pod != nullptr;
    for (const api::RecreateContainer& container : request.spec().containers()) {
      complete = complete && pod->CurrentContainer(container.name()) != nullptr;
    }
    if (complete) return pod_only;
  }
  return cri::TakeSnapshot(runtime);
}

}  // namespace

absl::StatusOr<RecreateEngine::Entry*> RecreateEngine::FindForCallLocked(
    const std::string& namespace_name, const std::string& name) {
  RETURN_IF_ERROR(CheckAcceptingLocked());
  Entry* entry = FindLocked({namespace_name, name});
  if (entry == nullptr) {
    return absl::NotFoundError(
        absl::StrCat("recreate request ", namespace_name, "/", name, " not found"));
  }
  return entry;
}

absl::StatusOr<RecreateEngine::Entry*> RecreateEngine::FindOpenForCallLocked(
    const std::string& namespace_name, const std::string& name) {
  ASSIGN_OR_RETURN(Entry * entry, FindForCallLocked(namespace_name, name));
  if (IsCompleted(entry->record)) {
    return absl::FailedPreconditionError(
        absl::StrCat("recreate request ", namespace_name, "/", name, " has completed"));
  }
  return entry;
}

std::string RecreateEngine::NewUidLocked() {
  // A random (version 4) UUID.
  const uint64_t high = absl::Uniform<uint64_t>(random_);
  const uint64_t low = absl::Uniform<uint64_t>(random_);
  return absl::StrFormat("%08x-%04x-4%03x-%04x-%012x", high >> 32, (high >> 16) & 0xffff,
                         high & 0xfff, 0x8000 | ((low >> 48) & 0x3fff), low & 0xffffffffffffULL);
}

absl::StatusOr<api::CreateRecreateRequestResponse> RecreateEngine::Create(
    const api::CreateRecreateRequestRequest& request) {
  ASSIGN_OR_RETURN(Accepted accepted, Accept(request));
  // Answered once durable. Not durable in time (a failing store): UNAVAILABLE, and a retry of the
  // same Create finds the request (it is kept and written when the store recovers).
  RETURN_IF_ERROR(AwaitDurable(accepted.write));
  return std::move(accepted.response);
}

void RecreateEngine::CreateAsync(const api::CreateRecreateRequestRequest& request,
                                 CreateDone done) {
  auto shared_done = std::make_shared<CreateDone>(std::move(done));
  const bool queued = acceptance_workers_.Submit([this, request, shared_done] {
    absl::StatusOr<Accepted> accepted = Accept(request);
    if (!accepted.ok()) {
      (*shared_done)(accepted.status());
      return;
    }
    // The worker is free for the next read at once; the answer comes from the committer's thread
    // (or the timer's), as Create's would.
    store::WhenDurableWithin(
        accepted->write, options_.store_write_timeout, answer_timers_,
        [shared_done, response = std::move(accepted->response)](absl::Status durable) {
          if (durable.ok()) {
            (*shared_done)(response);
          } else {
            (*shared_done)(std::move(durable));
          }
        });
  });
  // Refused only once Shutdown stopped the workers, long after it stopped accepting.
  if (!queued) (*shared_done)(absl::UnavailableError("inplaced is shutting down"));
}

absl::StatusOr<RecreateEngine::Accepted> RecreateEngine::Accept(
    const api::CreateRecreateRequestRequest& request) {
  RETURN_IF_ERROR(ValidateCreateRecreateRequest(request, options_.limits));
  api::CreateRecreateRequestRequest normalized = request;
  ApplySpecDefaults(normalized.mutable_spec());
  const Key key{normalized.namespace_(), normalized.name()};

  // The idempotent answer, or the refusal, without touching the runtime.
  const auto existing_or_cap =
      [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) -> std::optional<absl::StatusOr<Accepted>> {
    if (absl::Status accepting = CheckAcceptingLocked(); !accepting.ok()) return accepting;
    if (const Entry* entry = FindLocked(key); entry != nullptr) {
      if (!SameSpec(entry->record.request().spec(), normalized.spec())) {
        return absl::AlreadyExistsError(absl::StrCat("recreate request ", key.first, "/",
                                                     key.second, " exists with a different spec"));
      }
      Accepted existing;  // nothing written: durable at once
      *existing.response.mutable_recreate_request() = entry->record.request();
      existing.response.set_created(false);
      return existing;
    }
    if (open_requests_ >= options_.max_open_requests) {
      return absl::ResourceExhaustedError(
          absl::StrCat("too many open recreate requests (limit ", options_.max_open_requests, ")"));
    }
    return std::nullopt;
  };
  {
    absl::MutexLock lock(&mu_);
    if (auto answer = existing_or_cap(); answer.has_value()) return *std::move(answer);
  }

  // The status context "at acceptance": read outside the lock, only when something is missing.
  bool needs_runtime = normalized.spec().pod_uid().empty();
  for (const api::RecreateContainer& container : normalized.spec().containers()) {
    needs_runtime = needs_runtime || !container.has_status_context();
  }
  std::optional<cri::NodeSnapshot> snapshot;
  if (needs_runtime) {
    absl::StatusOr<cri::NodeSnapshot> taken = AcceptanceSnapshot(runtime_, normalized);
    if (taken.ok()) {
      snapshot = *std::move(taken);
    } else {
      spdlog::warn(
          "recreate_snapshot_failed ns={} name={} error=\"{}\" (the ticks resolve the pod)",
          key.first, key.second, taken.status().ToString());
    }
  }

  Accepted accepted;
  DurableRef& write = accepted.write;
  api::CreateRecreateRequestResponse& response = accepted.response;
  std::vector<KillJob> start;
  {
    absl::MutexLock lock(&mu_);
    // The request and its first step are written in one batch (one fsync).
    store::GroupCommitter::Hold hold(committer_);
    if (auto answer = existing_or_cap(); answer.has_value()) return *std::move(answer);
    const absl::Time now = clock_.Now();
    internal::RecreateRecord record = NewRecord(normalized, NewUidLocked(), now, next_sequence_);
    api::RecreateStatus& status = *record.mutable_request()->mutable_status();
    const cri::PodInfo* pod =
        snapshot.has_value() ? FindRequestPod(record.request(), *snapshot) : nullptr;
    if (pod != nullptr) {
      for (int i = 0; i < normalized.spec().containers_size(); ++i) {
        const cri::ContainerInfo* current =
            pod->CurrentContainer(normalized.spec().containers(i).name());
        if (current == nullptr) continue;
        if (std::string reason = NotRecreatableReason(*current); !reason.empty()) {
          return InvalidField(absl::StrCat("spec.containers[", i, "].name"), reason);
        }
      }
      if (status.pod_uid().empty()) status.set_pod_uid(pod->uid);
      FillMissingContexts(&record, *pod);
      for (api::ContainerRecreateState& state : *status.mutable_container_states()) {
        if (state.old_container_id().empty())
          state.set_message("container not found in the pod at acceptance");
      }
    } else if (snapshot.has_value()) {
      status.set_message(absl::StrCat("pod ", key.first, "/", normalized.spec().pod_name(),
                                      " not found on the node at acceptance"));
    }
    ++next_sequence_;
    record.mutable_request()->mutable_metadata()->set_resource_version(NextResourceVersionLocked());
    Entry entry;
    entry.record = record;
    entry.last_write = write = QueueWriteLocked(
        store::Write::Create(kRecreateStoreKind, StoreKey(key), record.SerializeAsString()));
    InsertLocked(key, std::move(entry));
    spdlog::info("recreate_created ns={} name={} pod={} pod_uid={} uid={} containers={}", key.first,
                 key.second, LogSafe(normalized.spec().pod_name()), LogSafe(status.pod_uid()),
                 record.request().metadata().uid(), normalized.spec().containers_size());
    hub_.Publish(api::WATCH_EVENT_TYPE_ADDED, record.request());
    if (pod != nullptr) {
      // The pod was just read: the first step is decided now and committed with the request (one
      // group commit), so its kills start as soon as the request is durable instead of after the
      // next tick has read the whole node. The ticks take it from there.
      Entry& inserted = requests_.at(key);
      StepInput input;
      input.now = now;
      input.blocked_by = BlockedByLocked(key, inserted);
      ApplyStepLocked(key, inserted, AdvanceLocked(inserted, *snapshot, std::move(input)), now,
                      kWakeRequest);
      start = TakeStartableKillsLocked();
      // Answered once the step is durable too (same batch, or a later one: writes are durable in
      // order), after the kills it starts went out.
      write = inserted.last_write;
    }
    Wake(kWakeRequest);
    *response.mutable_recreate_request() = record.request();
    response.set_created(true);
  }
  // The kills' continuations are chained to the write before the caller chains the answer: the
  // StopContainer calls go out before the Create is answered.
  StartKills(std::move(start));
  return accepted;
}

absl::StatusOr<api::RecreateRequest> RecreateEngine::Get(
    const api::GetRecreateRequestRequest& request) {
  RETURN_IF_ERROR(ValidateGetRecreateRequest(request));
  absl::MutexLock lock(&mu_);
  ASSIGN_OR_RETURN(Entry * entry, FindForCallLocked(request.namespace_(), request.name()));
  return entry->record.request();
}

absl::StatusOr<api::ListRecreateRequestsResponse> RecreateEngine::List(
    const api::ListRecreateRequestsRequest& request) {
  RETURN_IF_ERROR(ValidateListRecreateRequests(request, options_.limits));
  ASSIGN_OR_RETURN(const ListCursor cursor, DecodeListPageToken(request));
  const int page_size = EffectivePageSize(request);
  api::ListRecreateRequestsResponse response;
  size_t page_bytes = 0;
  absl::MutexLock lock(&mu_);
  RETURN_IF_ERROR(CheckAcceptingLocked());
  auto it = requests_.begin();
  if (!cursor.namespace_name.empty() || !cursor.name.empty()) {
    it = requests_.upper_bound(Key{cursor.namespace_name, cursor.name});
  }
  for (; it != requests_.end(); ++it) {
    const api::RecreateRequest& candidate = it->second.record.request();
    if (!request.namespace_().empty() && candidate.metadata().namespace_() != request.namespace_())
      continue;
    if (!request.pod_name().empty() && candidate.spec().pod_name() != request.pod_name()) continue;
    if (request.phase() != api::RECREATE_PHASE_UNSPECIFIED &&
        candidate.status().phase() != request.phase()) {
      continue;
    }
    // The item's share of the encoded response: its bytes plus the field's tag and length.
    const size_t item_bytes = candidate.ByteSizeLong() + 8;
    const bool full = response.recreate_requests_size() == page_size ||
                      (response.recreate_requests_size() > 0 &&
                       page_bytes + item_bytes > options_.limits.max_list_page_bytes);
    if (full) {
      // One more match exists: this page ends at the previous one.
      const api::RecreateRequest& last =
          response.recreate_requests(response.recreate_requests_size() - 1);
      response.set_next_page_token(EncodeListPageToken(
          request, ListCursor{last.metadata().namespace_(), last.metadata().name()}));
      break;
    }
    *response.add_recreate_requests() = candidate;
    page_bytes += item_bytes;
  }
  return response;
}

absl::Status RecreateEngine::Delete(const api::DeleteRecreateRequestRequest& request) {
  RETURN_IF_ERROR(ValidateDeleteRecreateRequest(request));
  DurableRef write;
  {
    absl::MutexLock lock(&mu_);
    absl::StatusOr<Entry*> entry = FindForCallLocked(request.namespace_(), request.name());
    if (!entry.ok()) {
      if (entry.status().code() == absl::StatusCode::kNotFound && request.allow_missing())
        return absl::OkStatus();
      return entry.status();
    }
    write = RemoveLocked({request.namespace_(), request.name()}, "api");
    Wake(kWakeRequest);  // the pod's next request may start
  }
  return AwaitDurable(write);
}

absl::StatusOr<api::RecreateRequest> RecreateEngine::AcknowledgeUnready(
    const api::AcknowledgeUnreadyRequest& request) {
  RETURN_IF_ERROR(ValidateAcknowledgeUnready(request));
  DurableRef write;
  api::RecreateRequest answer;
  {
    absl::MutexLock lock(&mu_);
    ASSIGN_OR_RETURN(Entry * entry, FindOpenForCallLocked(request.namespace_(), request.name()));
    if (!entry->record.request().status().has_unready_acknowledged_at()) {
      internal::RecreateRecord record = entry->record;
      *record.mutable_request()->mutable_status()->mutable_unready_acknowledged_at() =
          request.unready_at();
      write = CommitLocked({request.namespace_(), request.name()}, *entry, std::move(record));
      spdlog::info("recreate_unready_acknowledged ns={} name={} unready_at={}",
                   request.namespace_(), request.name(),
                   absl::FormatTime(FromProtoTime(request.unready_at())));
      Wake(kWakeRequest);
    }
    answer = entry->record.request();
  }
  RETURN_IF_ERROR(AwaitDurable(write));
  return answer;
}

absl::StatusOr<api::RecreateRequest> RecreateEngine::ReportReadiness(
    const api::ReportReadinessRequest& request) {
  RETURN_IF_ERROR(ValidateReportReadiness(request, options_.limits));
  DurableRef write;
  api::RecreateRequest answer;
  {
    absl::MutexLock lock(&mu_);
    ASSIGN_OR_RETURN(Entry * entry, FindOpenForCallLocked(request.namespace_(), request.name()));
    internal::RecreateRecord record = entry->record;
    api::RecreateStatus& status = *record.mutable_request()->mutable_status();
    const google::protobuf::Timestamp now = ToProtoTime(clock_.Now());
    for (int i = 0; i < request.containers_size(); ++i) {
      const api::ContainerReadiness& report = request.containers(i);
      api::ContainerRecreateState* state = nullptr;
      for (api::ContainerRecreateState& candidate : *status.mutable_container_states()) {
        if (candidate.name() == report.name()) state = &candidate;
      }
      if (state == nullptr) {
        return absl::InvalidArgumentError(
            absl::StrFormat("containers[%d].name: container \"%s\" is not in the request's spec", i,
                            report.name()));
      }
      api::ContainerReadinessReport& last = *state->mutable_last_readiness_report();
      last.set_container_id(BareContainerId(report.container_id()));
      last.set_ready(report.ready());
      *last.mutable_reported_at() = now;
    }
    write = CommitLocked({request.namespace_(), request.name()}, *entry, std::move(record));
    Wake(kWakeRequest);
    answer = entry->record.request();
  }
  RETURN_IF_ERROR(AwaitDurable(write));
  return answer;
}

absl::StatusOr<std::unique_ptr<RecreateWatch>> RecreateEngine::Watch(
    const api::WatchRecreateRequestsRequest& request) {
  RETURN_IF_ERROR(ValidateWatchRecreateRequests(request));
  absl::MutexLock lock(&mu_);
  RETURN_IF_ERROR(CheckAcceptingLocked());
  // The hub filters and copies only what the watch sends: 2,000 watches of an empty namespace on a
  // daemon with 1,000 requests copy nothing.
  return hub_.Subscribe(request, [this](const auto& visit) {
    // Called inside Subscribe, under mu_.
    for (const auto& [key, entry] : requests_) visit(entry.record.request());
  });
}

}  // namespace inplaced::daemon
