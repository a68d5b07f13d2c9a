#include "kube/informer.h"

#include <gtest/gtest.h>

#include <condition_variable>
#include <map>
#include <regex>
#include <set>
#include <thread>

#include "fakes/fake_kube_api.h"
#include "informer_support.h"

namespace kvlb::kube {
namespace {

using fakes::FakeKubeApi;
using testing::RecordingHandler;
using testing::Sleeper;
using json = nlohmann::json;
using namespace std::chrono_literals;
using std::chrono::milliseconds;

const std::string kSvc = "/api/v1/services";

json svc(const std::string& name, int port = 80) {
  return {{"metadata", {{"namespace", "default"}, {"name", name}}}, {"spec", {{"ports", {{{"port", port}}}}}}};
}

std::string name_of(const json& o) { return testing::name_of(o); }

class InformerTest : public ::testing::Test {
 protected:
  InformerOptions options(uint32_t page_size = 500) {
    InformerOptions o;
    o.list_path = kSvc;
    o.name = "services";
    o.page_size = page_size;
    return o;
  }
  void start(InformerOptions o) {
    informer_ = std::make_unique<Informer>(api_, std::move(o), handler_, clock_, [this](milliseconds d) { sleeper_.sleep(d); });
    thread_ = std::thread([this] { informer_->run(stop_.get_token()); });
  }
  // Stops and joins; false if run() did not return within 3 s.
  bool stop() {
    if (!thread_.joinable()) return true;
    stop_.request_stop();
    auto done = std::make_shared<std::atomic<bool>>(false);
    std::thread joiner([this, done] {
      thread_.join();
      *done = true;
    });
    bool ok = api_.wait_until([&] { return done->load(); }, 3000ms);
    if (!ok) {  // unblock so the test binary can end, and report
      api_.cancel_watches();
      sleeper_.release();
    }
    joiner.join();
    return ok;
  }
  void TearDown() override { stop(); }
  bool wait(const std::function<bool()>& pred) { return api_.wait_until(pred, 5000ms); }
  Informer::Stats stats() const { return informer_->stats(); }
  bool synced_and_watching(size_t watches = 1) {
    return wait([&] { return informer_->has_synced() && api_.open_watches() == 1 && stats().watches == watches; });
  }
  static std::string query_value(const std::string& path_and_query, const std::string& key) {
    auto pq = split_path_and_query(path_and_query);
    const std::string* v = pq.find(key);
    return v ? *v : "<absent>";
  }

  FakeKubeApi api_;
  RecordingHandler handler_;
  ManualClock clock_;
  std::stop_source stop_;
  Sleeper sleeper_{stop_.get_token()};
  std::unique_ptr<Informer> informer_;
  std::thread thread_;
};

TEST_F(InformerTest, InitialListReplacesThenWatchesFromItsVersion) {
  api_.create(kSvc, svc("a"));
  api_.create(kSvc, svc("b"));
  api_.create(kSvc, svc("c"));
  api_.create("/api/v1/nodes", json{{"metadata", {{"name", "n"}}}});  // other collections move the version too
  start(options());
  ASSERT_TRUE(synced_and_watching());
  auto replaced = handler_.replaced();
  ASSERT_EQ(replaced.size(), 1u);
  ASSERT_EQ(replaced[0].size(), 3u);
  for (const auto& o : replaced[0]) {
    EXPECT_EQ(o["kind"], "Service");  // filled in from the list
    EXPECT_EQ(o["apiVersion"], "v1");
  }
  EXPECT_EQ(handler_.calls(), std::vector<std::string>{"replace:3"});
  auto gets = api_.get_requests();
  ASSERT_EQ(gets.size(), 1u);
  EXPECT_EQ(gets[0], kSvc + "?limit=500");
  auto watches = api_.watch_requests();
  ASSERT_EQ(watches.size(), 1u);
  std::smatch m;
  ASSERT_TRUE(std::regex_match(watches[0], m,
                               std::regex(R"(/api/v1/services\?resourceVersion=(\d+)&allowWatchBookmarks=true&timeoutSeconds=(\d+))")))
      << watches[0];
  EXPECT_EQ(m[1].str(), std::to_string(api_.resource_version()));  // the list's version (the node write came first)
  int timeout = std::stoi(m[2].str());
  EXPECT_GE(timeout, 240);
  EXPECT_LE(timeout, 360);
  auto s = stats();
  EXPECT_EQ(s.lists, 1u);
  EXPECT_EQ(s.watches, 1u);
  EXPECT_EQ(s.errors, 0u);
  EXPECT_TRUE(sleeper_.sleeps().empty());
}

TEST_F(InformerTest, NotSyncedBeforeTheFirstList) {
  api_.fail_next_get(ApiError{500, "InternalError", "etcd down", ""});
  sleeper_.hold();
  start(options());
  ASSERT_TRUE(wait([&] { return sleeper_.count() == 1; }));
  EXPECT_FALSE(informer_->has_synced());
  EXPECT_EQ(stats().errors, 1u);
  EXPECT_NE(stats().last_error.find("etcd down"), std::string::npos);
  sleeper_.release();
  ASSERT_TRUE(wait([&] { return informer_->has_synced(); }));
}

TEST_F(InformerTest, EventsReachTheHandlerInOrder) {
  api_.create(kSvc, svc("a"));
  start(options());
  ASSERT_TRUE(synced_and_watching());
  api_.create(kSvc, svc("b"));
  api_.update(kSvc, svc("a", 8080));
  api_.remove(kSvc, "default", "b");
  ASSERT_TRUE(wait([&] { return handler_.calls().size() == 4; }));
  EXPECT_EQ(handler_.calls(), (std::vector<std::string>{"replace:1", "upsert:b", "upsert:a", "remove:b"}));
  EXPECT_EQ(handler_.names(), std::set<std::string>{"a"});
  EXPECT_EQ(handler_.object("a")["spec"]["ports"][0]["port"], 8080);
  auto s = stats();
  EXPECT_EQ(s.events, 3u);
  EXPECT_EQ(s.resource_version, std::to_string(api_.resource_version()));
}

TEST_F(InformerTest, ServerEndResumesFromTheLastEventWithoutRelisting) {
  start(options());
  ASSERT_TRUE(synced_and_watching());
  api_.create(kSvc, svc("a"));
  ASSERT_TRUE(wait([&] { return handler_.calls().size() == 2; }));
  const std::string rv = std::to_string(api_.resource_version());
  api_.end_watches();
  ASSERT_TRUE(synced_and_watching(2));
  EXPECT_EQ(query_value(api_.watch_requests()[1], "resourceVersion"), rv);
  EXPECT_EQ(stats().lists, 1u);
  EXPECT_EQ(handler_.replaced().size(), 1u);
  EXPECT_TRUE(sleeper_.sleeps().empty());
}

TEST_F(InformerTest, BookmarkAdvancesTheResourceVersion) {
  start(options());
  ASSERT_TRUE(synced_and_watching());
  const std::string listed = query_value(api_.watch_requests()[0], "resourceVersion");
  api_.create("/api/v1/nodes", json{{"metadata", {{"name", "n1"}}}});
  api_.create("/api/v1/nodes", json{{"metadata", {{"name", "n2"}}}});
  api_.bookmark(kSvc);
  ASSERT_TRUE(wait([&] { return stats().bookmarks == 1; }));
  EXPECT_EQ(stats().resource_version, std::to_string(api_.resource_version()));
  api_.end_watches();
  ASSERT_TRUE(synced_and_watching(2));
  const std::string resumed = query_value(api_.watch_requests()[1], "resourceVersion");
  EXPECT_NE(resumed, listed);
  EXPECT_EQ(resumed, std::to_string(api_.resource_version()));
  EXPECT_EQ(handler_.calls(), std::vector<std::string>{"replace:0"});  // bookmarks are not objects
  EXPECT_EQ(stats().events, 0u);
  EXPECT_TRUE(sleeper_.sleeps().empty());  // a watch that saw a bookmark was healthy
}

TEST_F(InformerTest, WatchEndedAtOnceWithoutEventsBacksOff) {
  start(options());
  ASSERT_TRUE(synced_and_watching());
  api_.end_watches();  // no events, no time passed
  ASSERT_TRUE(synced_and_watching(2));
  ASSERT_EQ(sleeper_.count(), 1u);
  EXPECT_EQ(stats().errors, 1u);
  // A quiet watch that lasted a while is fine.
  clock_.advance(Informer::kMinHealthyWatch);
  api_.end_watches();
  ASSERT_TRUE(synced_and_watching(3));
  EXPECT_EQ(sleeper_.count(), 1u);
  EXPECT_EQ(stats().errors, 1u);
}

TEST_F(InformerTest, IdleTimeoutOfAQuietWatchIsNoError) {
  start(options());
  ASSERT_TRUE(synced_and_watching());
  const std::string rv = query_value(api_.watch_requests()[0], "resourceVersion");
  clock_.advance(90s);
  api_.fail_watches(ApiError{0, "Idle", "no data on the watch stream for 90000 ms", ""});
  ASSERT_TRUE(synced_and_watching(2));
  EXPECT_EQ(query_value(api_.watch_requests()[1], "resourceVersion"), rv);
  EXPECT_EQ(stats().errors, 0u);
  EXPECT_TRUE(sleeper_.sleeps().empty());
  // A server that never answers is a failure, however long it took.
  clock_.advance(90s);
  api_.fail_watches(ApiError{0, "Timeout", "no response from the server for 90000 ms", ""});
  ASSERT_TRUE(synced_and_watching(3));
  EXPECT_EQ(stats().errors, 1u);
  EXPECT_EQ(sleeper_.count(), 1u);
  // And so is a watch that goes idle at once.
  api_.fail_watches(ApiError{0, "Idle", "no data", ""});
  ASSERT_TRUE(synced_and_watching(4));
  EXPECT_EQ(stats().errors, 2u);
  EXPECT_EQ(sleeper_.count(), 2u);
}

TEST_F(InformerTest, GoneRelistsAndReplaces) {
  api_.create(kSvc, svc("a"));
  api_.create(kSvc, svc("b"));
  start(options());
  ASSERT_TRUE(synced_and_watching());
  const std::string old_rv = std::to_string(api_.resource_version());
  // The watch breaks; while the informer waits, the server moves on and compacts.
  sleeper_.hold();
  api_.fail_watches(ApiError{0, "Transport", "connection reset", ""});
  ASSERT_TRUE(wait([&] { return sleeper_.count() == 1; }));
  api_.remove(kSvc, "default", "a");
  api_.create(kSvc, svc("c"));
  api_.compact();
  sleeper_.release();
  ASSERT_TRUE(wait([&] { return handler_.replaced().size() == 2 && api_.open_watches() == 1; }));
  EXPECT_EQ(handler_.names(), (std::set<std::string>{"b", "c"}));
  auto watches = api_.watch_requests();
  ASSERT_EQ(watches.size(), 3u);
  EXPECT_EQ(query_value(watches[1], "resourceVersion"), old_rv);  // answered 410
  EXPECT_EQ(query_value(watches[2], "resourceVersion"), std::to_string(api_.resource_version()));
  auto s = stats();
  EXPECT_EQ(s.lists, 2u);
  EXPECT_EQ(s.relists_gone, 1u);
  EXPECT_EQ(s.errors, 1u);         // the reset; the 410 is not an error
  EXPECT_EQ(sleeper_.count(), 1u);  // and a 410 is relisted at once
  EXPECT_EQ(api_.get_requests().size(), 2u);
}

TEST_F(InformerTest, GoneErrorEventMidStreamRelists) {
  start(options());
  ASSERT_TRUE(synced_and_watching());
  api_.create(kSvc, svc("a"));
  ASSERT_TRUE(wait([&] { return stats().events == 1; }));
  api_.fail_watches(ApiError{410, "Expired", "too old resource version", ""});
  ASSERT_TRUE(wait([&] { return handler_.replaced().size() == 2 && api_.open_watches() == 1; }));
  EXPECT_EQ(handler_.replaced()[1].size(), 1u);
  EXPECT_EQ(stats().relists_gone, 1u);
  EXPECT_TRUE(sleeper_.sleeps().empty());
  EXPECT_TRUE(informer_->has_synced());
}

TEST_F(InformerTest, RepeatedGoneWithoutAHealthyWatchBacksOffInsteadOfSpinning) {
  for (int i = 0; i < 3; ++i) api_.fail_next_watch(ApiError{410, "Expired", "too old", ""});
  start(options());
  ASSERT_TRUE(synced_and_watching(4));
  auto sleeps = sleeper_.sleeps();
  ASSERT_EQ(sleeps.size(), 2u);  // the first 410 is relisted at once
  EXPECT_LT(sleeps[0], sleeps[1]);
  EXPECT_EQ(stats().lists, 4u);
  EXPECT_EQ(stats().relists_gone, 3u);
}

TEST_F(InformerTest, BackoffGrowsWithJitterCapsAndResetsAfterAHealthyWatch) {
  auto o = options();
  o.backoff_initial = 100ms;
  o.backoff_max = 1000ms;
  o.jitter = 0.2;
  for (int i = 0; i < 4; ++i) api_.fail_next_get(ApiError{500, "InternalError", "list failed", ""});
  for (int i = 0; i < 2; ++i) api_.fail_next_watch(ApiError{0, "Transport", "connection refused", ""});
  start(o);
  ASSERT_TRUE(synced_and_watching(3));
  // A watch that delivers an event is healthy: the next failure starts over.
  api_.create(kSvc, svc("a"));
  ASSERT_TRUE(wait([&] { return stats().events == 1; }));
  api_.fail_watches(ApiError{0, "Transport", "connection reset", ""});
  ASSERT_TRUE(synced_and_watching(4));

  auto sleeps = sleeper_.sleeps();
  const std::vector<double> bases = {100, 200, 400, 800, 1000, 1000, 100};
  ASSERT_EQ(sleeps.size(), bases.size());
  std::set<double> ratios;
  for (size_t i = 0; i < bases.size(); ++i) {
    double ms = static_cast<double>(sleeps[i].count());
    EXPECT_GE(ms, bases[i] * 0.8 - 0.5) << "sleep " << i;
    EXPECT_LE(ms, bases[i] * 1.2 + 0.5) << "sleep " << i;
    ratios.insert(std::round(ms / bases[i] * 100));
  }
  EXPECT_GT(ratios.size(), 1u) << "no jitter";
  auto s = stats();
  EXPECT_EQ(s.errors, 7u);
  EXPECT_NE(s.last_error.find("connection reset"), std::string::npos) << s.last_error;
}

TEST_F(InformerTest, JitterSpreadsOverTheWholeRange) {
  auto o = options();
  o.backoff_initial = 1000ms;
  o.backoff_max = 1000ms;
  o.jitter = 0.2;
  o.watch_timeout_seconds = 100;
  for (int i = 0; i < 60; ++i) api_.fail_next_get(ApiError{500, "InternalError", "x", ""});
  for (int i = 0; i < 60; ++i) api_.fail_next_watch(ApiError{500, "InternalError", "x", ""});
  start(o);
  ASSERT_TRUE(synced_and_watching(61));
  auto sleeps = sleeper_.sleeps();
  ASSERT_EQ(sleeps.size(), 120u);
  auto [lo, hi] = std::minmax_element(sleeps.begin(), sleeps.end());
  EXPECT_GE(lo->count(), 800);
  EXPECT_LE(hi->count(), 1200);
  EXPECT_LT(lo->count(), 900);
  EXPECT_GT(hi->count(), 1100);
  std::vector<int> timeouts;
  for (const auto& w : api_.watch_requests()) timeouts.push_back(std::stoi(query_value(w, "timeoutSeconds")));
  auto [tlo, thi] = std::minmax_element(timeouts.begin(), timeouts.end());
  EXPECT_GE(*tlo, 80);
  EXPECT_LE(*thi, 120);
  EXPECT_LT(*tlo, 90);
  EXPECT_GT(*thi, 110);
}

TEST_F(InformerTest, PaginatedList) {
  for (int i = 0; i < 7; ++i) api_.create(kSvc, svc("s" + std::to_string(i)));
  start(options(3));
  ASSERT_TRUE(synced_and_watching());
  auto gets = api_.get_requests();
  ASSERT_EQ(gets.size(), 3u);
  EXPECT_EQ(gets[0], kSvc + "?limit=3");
  for (size_t i = 1; i < 3; ++i) {
    EXPECT_EQ(query_value(gets[i], "limit"), "3");
    EXPECT_NE(query_value(gets[i], "continue"), "<absent>");
  }
  auto replaced = handler_.replaced();
  ASSERT_EQ(replaced.size(), 1u);  // one replace with everything, not one per page
  ASSERT_EQ(replaced[0].size(), 7u);
  for (int i = 0; i < 7; ++i) EXPECT_EQ(name_of(replaced[0][i]), "s" + std::to_string(i));
  EXPECT_EQ(stats().errors, 0u);
}

TEST_F(InformerTest, ExpiredContinueTokenRestartsTheListUnpaginated) {
  for (int i = 0; i < 7; ++i) api_.create(kSvc, svc("s" + std::to_string(i)));
  bool compacted = false;
  api_.set_call_hook([&](const std::string& method, const std::string& path) {
    if (method == "GET" && path.find("continue=") != std::string::npos && !compacted) {
      compacted = true;
      api_.create(kSvc, svc("late"));
      api_.compact();
    }
  });
  start(options(3));
  ASSERT_TRUE(synced_and_watching());
  auto gets = api_.get_requests();
  ASSERT_EQ(gets.size(), 3u);
  EXPECT_EQ(gets[0], kSvc + "?limit=3");
  EXPECT_NE(query_value(gets[1], "continue"), "<absent>");  // answered 410
  EXPECT_EQ(gets[2], kSvc);                                 // all at once
  auto replaced = handler_.replaced();
  ASSERT_EQ(replaced.size(), 1u);  // no partial first page
  EXPECT_EQ(replaced[0].size(), 8u);
  EXPECT_EQ(handler_.names().count("late"), 1u);
  auto s = stats();
  EXPECT_EQ(s.lists, 1u);
  EXPECT_EQ(s.relists_gone, 1u);
  EXPECT_EQ(s.errors, 0u);
  EXPECT_TRUE(sleeper_.sleeps().empty());
}

TEST_F(InformerTest, RelistFailureKeepsSyncedAndRetries) {
  start(options());
  ASSERT_TRUE(synced_and_watching());
  api_.fail_next_get(ApiError{503, "ServiceUnavailable", "apiserver shutting down", ""});
  api_.fail_watches(ApiError{410, "Expired", "too old", ""});
  ASSERT_TRUE(wait([&] { return handler_.replaced().size() == 2 && api_.open_watches() == 1; }));
  EXPECT_TRUE(informer_->has_synced());
  auto s = stats();
  EXPECT_EQ(s.errors, 1u);
  EXPECT_EQ(s.lists, 2u);
  EXPECT_EQ(sleeper_.count(), 1u);
  EXPECT_NE(s.last_error.find("503"), std::string::npos) << s.last_error;
}

TEST_F(InformerTest, TooLargeResourceVersionRelistsAfterABackoff) {
  start(options());
  ASSERT_TRUE(synced_and_watching());
  api_.fail_watches(ApiError{504, "Timeout", "Too large resource version: 999, current: 100", ""});
  ASSERT_TRUE(wait([&] { return handler_.replaced().size() == 2 && api_.open_watches() == 1; }));
  EXPECT_EQ(sleeper_.count(), 1u);
  EXPECT_EQ(stats().errors, 1u);
  EXPECT_EQ(stats().lists, 2u);
  EXPECT_EQ(stats().relists_gone, 0u);
  // Any other error resumes the watch without listing again.
  api_.fail_watches(ApiError{500, "InternalError", "boom", ""});
  ASSERT_TRUE(synced_and_watching(3));
  EXPECT_EQ(stats().lists, 2u);
  EXPECT_EQ(sleeper_.count(), 2u);
}

TEST_F(InformerTest, ListPathWithQuery) {
  auto o = options();
  o.list_path = kSvc + "?labelSelector=" + query_escape("app=web");
  start(o);
  ASSERT_TRUE(synced_and_watching());
  EXPECT_EQ(api_.get_requests()[0], kSvc + "?labelSelector=app%3Dweb&limit=500");
  EXPECT_EQ(query_value(api_.watch_requests()[0], "labelSelector"), "app=web");
}

TEST_F(InformerTest, StopWhileWatching) {
  start(options());
  ASSERT_TRUE(synced_and_watching());
  EXPECT_TRUE(stop());
  EXPECT_TRUE(api_.watches_cancelled());
  EXPECT_TRUE(informer_->has_synced());
}

TEST_F(InformerTest, StopWhileBackingOff) {
  api_.fail_next_get(ApiError{500, "InternalError", "x", ""});
  sleeper_.hold();
  start(options());
  ASSERT_TRUE(wait([&] { return sleeper_.count() == 1; }));
  EXPECT_TRUE(stop());
  EXPECT_FALSE(informer_->has_synced());
  EXPECT_EQ(stats().lists, 0u);
  EXPECT_EQ(api_.get_requests().size(), 1u);
}

TEST(StoppableSleep, ReturnsEarlyOnStop) {
  std::stop_source stop;
  auto sleep = stoppable_sleep(stop.get_token());
  auto start = std::chrono::steady_clock::now();
  sleep(30ms);
  EXPECT_GE(std::chrono::steady_clock::now() - start, 30ms);
  std::thread stopper([&] {
    std::this_thread::sleep_for(50ms);
    stop.request_stop();
  });
  start = std::chrono::steady_clock::now();
  sleep(10s);
  EXPECT_LT(std::chrono::steady_clock::now() - start, 5s);
  stopper.join();
}

}  // namespace
}  // namespace kvlb::kube
