#pragma once
// A consumer that records what an Informer hands it, and a backoff sleep that
// records and can be held (for the unit and the live tests).
#include <chrono>
#include <condition_variable>
#include <map>
#include <mutex>
#include <set>
#include <stop_token>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "kube/informer.h"

namespace kvlb::kube::testing {

using json = nlohmann::json;
using std::chrono::milliseconds;

inline std::string name_of(const json& o) { return o["metadata"]["name"].get<std::string>(); }

class RecordingHandler final : public InformerHandler {
 public:
  void replace(const std::vector<json>& objects) override {
    std::lock_guard lock(mu_);
    state_.clear();
    for (const auto& o : objects) state_[name_of(o)] = o;
    replaced_.push_back(objects);
    calls_.push_back("replace:" + std::to_string(objects.size()));
  }
  void upsert(const json& object) override {
    std::lock_guard lock(mu_);
    state_[name_of(object)] = object;
    calls_.push_back("upsert:" + name_of(object));
  }
  void remove(const json& object) override {
    std::lock_guard lock(mu_);
    state_.erase(name_of(object));
    calls_.push_back("remove:" + name_of(object));
  }
  std::vector<std::string> calls() const {
    std::lock_guard lock(mu_);
    return calls_;
  }
  std::vector<std::vector<json>> replaced() const {
    std::lock_guard lock(mu_);
    return replaced_;
  }
  std::set<std::string> names() const {
    std::lock_guard lock(mu_);
    std::set<std::string> out;
    for (const auto& [k, v] : state_) out.insert(k);
    return out;
  }
  json object(const std::string& name) const {
    std::lock_guard lock(mu_);
    auto it = state_.find(name);
    return it == state_.end() ? json() : it->second;
  }

 private:
  mutable std::mutex mu_;
  std::map<std::string, json> state_;
  std::vector<std::vector<json>> replaced_;
  std::vector<std::string> calls_;
};

// Records every backoff; returns at once unless held, and always on stop.
class Sleeper {
 public:
  explicit Sleeper(std::stop_token stop) : stop_(std::move(stop)) {}
  void sleep(milliseconds d) {
    std::unique_lock lock(mu_);
    sleeps_.push_back(d);
    cv_.notify_all();
    cv_.wait(lock, stop_, [&] { return !held_; });
  }
  void hold() {
    std::lock_guard lock(mu_);
    held_ = true;
  }
  void release() {
    std::lock_guard lock(mu_);
    held_ = false;
    cv_.notify_all();
  }
  std::vector<milliseconds> sleeps() const {
    std::lock_guard lock(mu_);
    return sleeps_;
  }
  size_t count() const { return sleeps().size(); }

 private:
  std::stop_token stop_;
  mutable std::mutex mu_;
  std::condition_variable_any cv_;
  bool held_ = false;
  std::vector<milliseconds> sleeps_;
};

}  // namespace kvlb::kube::testing
