// PrometheusMetrics (what the engines report, rendered by prometheus-cpp) and the ProbeServer
// (/healthz, /readyz, /metrics on one civetweb port) over real loopback HTTP.

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <memory>
#include <string>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "metrics/probe_server.h"
#include "metrics/prometheus_metrics.h"
#include "tests/support/http_get.h"
#include "tests/support/status_matchers.h"

namespace inplaced::metrics {
namespace {

using ::inplaced::testing::HttpRequest;
using ::inplaced::testing::HttpResponse;
using ::inplaced::testing::StatusIs;
using ::testing::HasSubstr;
using ::testing::Not;

TEST(PrometheusMetricsTest, FixedSeriesExistAtZeroBeforeAnyEvent) {
  PrometheusMetrics metrics("1.2.3");
  const std::string text = metrics.Scrape();
  EXPECT_THAT(text, HasSubstr("inplaced_build_info{version=\"1.2.3\"} 1"));
  EXPECT_THAT(text, HasSubstr("inplaced_kills_total{result=\"stopped\"} 0"));
  EXPECT_THAT(text, HasSubstr("inplaced_recreate_requests{phase=\"pending\"} 0"));
  EXPECT_THAT(text, HasSubstr("inplaced_recreate_duration_seconds_count{result=\"succeeded\"} 0"));
  EXPECT_THAT(text,
              HasSubstr("inplaced_restart_detection_delay_seconds_count{source=\"event\"} 0"));
  EXPECT_THAT(text, HasSubstr("inplaced_image_pulls{kind=\"adhoc\",phase=\"pulling\"} 0"));
  EXPECT_THAT(text, HasSubstr("inplaced_watch_streams{api=\"recreate\"} 0"));
  // Families keyed by an open-ended set (CRI methods and codes) appear with their first call.
  EXPECT_THAT(text, Not(HasSubstr("inplaced_cri_call_duration_seconds")));
}

TEST(PrometheusMetricsTest, ReportsMoveTheirSeries) {
  PrometheusMetrics metrics("0.1.0");
  metrics.KillFinished("stopped");
  metrics.KillFinished("stopped");
  metrics.KillFinished("failed");
  metrics.RecreateCompleted("succeeded", absl::Seconds(3));
  metrics.PreStopFinished("timed_out", absl::Seconds(30));
  metrics.RestartObserved("event", absl::Milliseconds(40));
  metrics.RestartObserved("poll", absl::Milliseconds(700));
  metrics.CriCallFinished("StopContainer", absl::StatusCode::kOk, absl::Milliseconds(3));
  metrics.CriCallFinished("StopContainer", absl::StatusCode::kDeadlineExceeded, absl::Seconds(2));
  metrics.PullFinished("pulled", absl::Seconds(12));
  metrics.PullFinished("failed", absl::Seconds(1));
  const std::string text = metrics.Scrape();
  EXPECT_THAT(text, HasSubstr("inplaced_kills_total{result=\"stopped\"} 2"));
  EXPECT_THAT(text, HasSubstr("inplaced_kills_total{result=\"failed\"} 1"));
  EXPECT_THAT(text, HasSubstr("inplaced_recreate_duration_seconds_count{result=\"succeeded\"} 1"));
  EXPECT_THAT(text, HasSubstr("inplaced_recreate_duration_seconds_sum{result=\"succeeded\"} 3"));
  EXPECT_THAT(
      text,
      HasSubstr("inplaced_recreate_duration_seconds_bucket{result=\"succeeded\",le=\"2\"} 0"));
  EXPECT_THAT(
      text,
      HasSubstr("inplaced_recreate_duration_seconds_bucket{result=\"succeeded\",le=\"5\"} 1"));
  EXPECT_THAT(text, HasSubstr("inplaced_prestop_duration_seconds_count{outcome=\"timed_out\"} 1"));
  EXPECT_THAT(text, HasSubstr("inplaced_restart_detection_delay_seconds_bucket{source=\"event\","
                              "le=\"0.05\"} 1"));
  EXPECT_THAT(text, HasSubstr("inplaced_restart_detection_delay_seconds_bucket{source=\"poll\","
                              "le=\"0.5\"} 0"));
  EXPECT_THAT(text,
              HasSubstr("inplaced_cri_call_duration_seconds_count{method=\"StopContainer\"} 2"));
  EXPECT_THAT(text, HasSubstr("inplaced_cri_call_errors_total{code=\"DEADLINE_EXCEEDED\","
                              "method=\"StopContainer\"} 1"));
  EXPECT_THAT(text, Not(HasSubstr("code=\"OK\""))) << "successes are no errors";
  EXPECT_THAT(text, HasSubstr("inplaced_image_pull_attempts_total{result=\"pulled\"} 1"));
  EXPECT_THAT(text, HasSubstr("inplaced_image_pull_duration_seconds_sum{result=\"pulled\"} 12"));
}

TEST(PrometheusMetricsTest, EventStreamStateIsOneHot) {
  PrometheusMetrics metrics("0.1.0");
  metrics.EventStreamState("connecting");
  metrics.EventStreamState("subscribed");
  const std::string text = metrics.Scrape();
  EXPECT_THAT(text, HasSubstr("inplaced_event_stream_state{state=\"subscribed\"} 1"));
  EXPECT_THAT(text, HasSubstr("inplaced_event_stream_state{state=\"connecting\"} 0"));
  EXPECT_THAT(text, HasSubstr("inplaced_event_stream_state{state=\"broken\"} 0"));
}

TEST(PrometheusMetricsTest, StateGaugesAreReadFromTheSourceAtEachScrape) {
  PrometheusMetrics metrics("0.1.0");
  int scrapes = 0;
  metrics.SetStateSource([&scrapes] {
    ++scrapes;
    EngineState state;
    state.available = true;
    state.requests_pending = 2 * scrapes;
    state.requests_recreating = 1;
    state.requests_completed = 5;
    state.oldest_pending_age = absl::Milliseconds(1500);
    state.recreate_watches = 3;
    state.nodeimage_watches = 1;
    state.pulls[{"nodeimage", "pulling"}] = 2;
    state.pulls[{"adhoc", "failed"}] = 1;
    return state;
  });
  std::string text = metrics.Scrape();
  EXPECT_THAT(text, HasSubstr("inplaced_recreate_requests{phase=\"pending\"} 2"));
  EXPECT_THAT(text, HasSubstr("inplaced_recreate_requests{phase=\"recreating\"} 1"));
  EXPECT_THAT(text, HasSubstr("inplaced_recreate_requests{phase=\"completed\"} 5"));
  EXPECT_THAT(text, HasSubstr("inplaced_recreate_queue_depth 2"));
  EXPECT_THAT(text, HasSubstr("inplaced_recreate_oldest_pending_age_seconds 1.5"));
  EXPECT_THAT(text, HasSubstr("inplaced_watch_streams{api=\"recreate\"} 3"));
  EXPECT_THAT(text, HasSubstr("inplaced_watch_streams{api=\"nodeimage\"} 1"));
  EXPECT_THAT(text, HasSubstr("inplaced_image_pulls{kind=\"nodeimage\",phase=\"pulling\"} 2"));
  EXPECT_THAT(text, HasSubstr("inplaced_image_pulls{kind=\"adhoc\",phase=\"failed\"} 1"));
  EXPECT_THAT(text, HasSubstr("inplaced_image_pulls{kind=\"adhoc\",phase=\"waiting\"} 0"));
  text = metrics.Scrape();
  EXPECT_THAT(text, HasSubstr("inplaced_recreate_requests{phase=\"pending\"} 4"));
  // The source gone (the daemon stopping): the gauges fall back to 0.
  metrics.SetStateSource([] { return EngineState(); });
  text = metrics.Scrape();
  EXPECT_THAT(text, HasSubstr("inplaced_recreate_requests{phase=\"pending\"} 0"));
  EXPECT_THAT(text, HasSubstr("inplaced_image_pulls{kind=\"nodeimage\",phase=\"pulling\"} 0"));
}

// ---- CheckProbeAddress ----

TEST(CheckProbeAddressTest, AcceptsHostPortAndBracketedIpv6) {
  EXPECT_EQ(CheckProbeAddress("127.0.0.1:9478"), "");
  EXPECT_EQ(CheckProbeAddress("0.0.0.0:0"), "");
  EXPECT_EQ(CheckProbeAddress("localhost:8080"), "");
  EXPECT_EQ(CheckProbeAddress("[::1]:9478"), "");
}

TEST(CheckProbeAddressTest, RefusesWhatCannotBeListenedOn) {
  EXPECT_THAT(CheckProbeAddress("9478"), HasSubstr("host:port"));
  EXPECT_THAT(CheckProbeAddress(":9478"), HasSubstr("host:port"));
  EXPECT_THAT(CheckProbeAddress("127.0.0.1:"), HasSubstr("port between 0 and 65535"));
  EXPECT_THAT(CheckProbeAddress("127.0.0.1:65536"), HasSubstr("port between 0 and 65535"));
  EXPECT_THAT(CheckProbeAddress("127.0.0.1:-1"), HasSubstr("port between 0 and 65535"));
  EXPECT_THAT(CheckProbeAddress("127.0.0.1:80x"), HasSubstr("port between 0 and 65535"));
  EXPECT_THAT(CheckProbeAddress("::1:9478"), HasSubstr("IPv6"));
  EXPECT_THAT(CheckProbeAddress("[::1:9478"), HasSubstr("brackets"));
  EXPECT_THAT(CheckProbeAddress("http://x:80"), HasSubstr("host:port"));
}

// ---- ProbeServer over loopback ----

class ProbeServerTest : public ::testing::Test {
 protected:
  void StartServer() {
    ProbeHandlers handlers;
    handlers.readyz = [this] {
      ProbeResult result;
      result.ok = ready_.load();
      result.body = result.ok ? "ready\n" : "not ready\nruntime: not answered yet\n";
      return result;
    };
    handlers.metrics = [this] { return metrics_.Scrape(); };
    ASSERT_OK_AND_ASSIGN(server_, ProbeServer::Start("127.0.0.1:0", std::move(handlers)));
    ASSERT_GT(server_->port(), 0) << "port 0 resolves to the port it listens on";
  }
  HttpResponse Get(const std::string& path, const std::string& method = "GET") {
    absl::StatusOr<HttpResponse> response = HttpRequest(server_->port(), path, method);
    EXPECT_TRUE(response.ok()) << response.status();
    return response.ok() ? *response : HttpResponse();
  }

  std::atomic<bool> ready_{false};
  PrometheusMetrics metrics_{"0.1.0"};
  std::unique_ptr<ProbeServer> server_;
};

TEST_F(ProbeServerTest, HealthzIsAlwaysOk) {
  StartServer();
  const HttpResponse health = Get("/healthz");
  EXPECT_EQ(health.status, 200);
  EXPECT_EQ(health.body, "ok\n");
}

TEST_F(ProbeServerTest, ReadyzFollowsTheReadinessCheck) {
  StartServer();
  HttpResponse ready = Get("/readyz");
  EXPECT_EQ(ready.status, 503);
  EXPECT_THAT(ready.body, HasSubstr("runtime: not answered yet"));
  ready_ = true;
  ready = Get("/readyz");
  EXPECT_EQ(ready.status, 200);
  EXPECT_EQ(ready.body, "ready\n");
}

TEST_F(ProbeServerTest, MetricsServesTheExpositionFormat) {
  StartServer();
  metrics_.KillFinished("stopped");
  const HttpResponse scraped = Get("/metrics");
  EXPECT_EQ(scraped.status, 200);
  EXPECT_THAT(scraped.headers, HasSubstr("text/plain; version=0.0.4"));
  EXPECT_THAT(scraped.body, HasSubstr("inplaced_kills_total{result=\"stopped\"} 1"));
}

TEST_F(ProbeServerTest, OtherPathsAndMethodsAreRefused) {
  StartServer();
  EXPECT_EQ(Get("/").status, 404);
  EXPECT_EQ(Get("/healthz/x").status, 404);
  EXPECT_EQ(Get("/healthz", "POST").status, 405);
  const HttpResponse head = Get("/healthz", "HEAD");
  EXPECT_EQ(head.status, 200);
  EXPECT_EQ(head.body, "");
}

TEST(ProbeServerStartTest, AMalformedAddressIsInvalidArgument) {
  EXPECT_THAT(ProbeServer::Start("nope", {}),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("\"nope\"")));
}

TEST(ProbeServerStartTest, APortInUseIsUnavailableNamingTheAddress) {
  // Hold a listening socket on a free port, then ask the server for the same one.
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  ASSERT_GE(fd, 0);
  sockaddr_in address = {};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)), 0);
  ASSERT_EQ(::listen(fd, 1), 0);
  socklen_t length = sizeof(address);
  ASSERT_EQ(::getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length), 0);
  const std::string taken = absl::StrCat("127.0.0.1:", ntohs(address.sin_port));
  EXPECT_THAT(ProbeServer::Start(taken, {}),
              StatusIs(absl::StatusCode::kUnavailable, HasSubstr(taken)));
  ::close(fd);
}

}  // namespace
}  // namespace inplaced::metrics
