// kvlbd: makes the kernel's IPVS, nftables and VIP addresses match the config.
#include <malloc.h>
#include <poll.h>
#include <pthread.h>
#include <sys/eventfd.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <csignal>
#include <filesystem>
#include <iostream>
#include <mutex>
#include <thread>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include "api/http.h"
#include "bgp/bird/bird_socket_control.h"
#include "cluster/kube_source.h"
#include "config/config_loader.h"
#include "daemon/cluster_merge.h"
#include "daemon/bgp_runtime.h"
#include "daemon/controller.h"
#include "daemon/ha_runtime.h"
#include "daemon/status_view.h"
#include "kernel/addr/netlink_address_table.h"
#include "kernel/conntrack/netfilter_conntrack_reader.h"
#include "kernel/ipvs/netlink_ipvs_table.h"
#include "kernel/nft/netlink_nat_table.h"
#include "kernel/sysctl/proc_sysctl.h"
#include "kube/access.h"
#include "kube/kube_api.h"

namespace {

using namespace kvlb;
using namespace std::chrono_literals;

constexpr int kExitConfigInvalid = 2;

struct FileStamp {
  timespec mtime{};
  off_t size = -1;
  ino_t inode = 0;
  bool operator==(const FileStamp& o) const {
    return mtime.tv_sec == o.mtime.tv_sec && mtime.tv_nsec == o.mtime.tv_nsec && size == o.size && inode == o.inode;
  }
};

FileStamp stamp_of(const std::string& path) {
  struct stat st {};
  if (stat(path.c_str(), &st) != 0) return {};
  return {st.st_mtim, st.st_size, st.st_ino};
}

// At start (and for --check) problems go to stderr as plain lines; on reload
// they go to the log.
std::optional<model::DesiredState> load(const std::string& path, bool plain_errors) {
  auto loaded = config::load_config_file(path);
  if (!loaded.ok()) {
    for (const auto& e : loaded.errors) {
      if (plain_errors) std::cerr << e.str() << "\n";
      else spdlog::error("config: {}", e.str());
    }
    return std::nullopt;
  }
  return std::move(loaded.state);
}

// Blocks the signals kvlbd handles and returns a descriptor to read them.
// Must run before any thread starts (the REST API's pool): threads inherit
// the mask, and one without it would take SIGHUP's default action and exit.
int block_signals_into_fd() {
  sigset_t mask;
  sigemptyset(&mask);
  for (int sig : {SIGHUP, SIGTERM, SIGINT}) sigaddset(&mask, sig);
  pthread_sigmask(SIG_BLOCK, &mask, nullptr);
  return signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
}

// The API client for the configured cluster, or why there is none.
Result<std::unique_ptr<kube::KubeApi>> connect_kubernetes(const model::KubernetesSettings& settings) {
  auto access = settings.in_cluster ? kube::in_cluster_access() : kube::load_kubeconfig(settings.kubeconfig);
  if (!access.ok()) return access.error();
  return kube::make_kube_api(*access);
}

// Not ready while the cluster has not been listed once: until then kvlbd
// leaves the data plane as it is.
bool ready(const cluster::KubeSource* kube) { return !kube || kube->synced(); }

// The optional parts' views (unset when not configured).
struct OptionalViews {
  std::function<nlohmann::json()> ha_status;
  std::function<std::string()> ha_metrics;
  std::function<nlohmann::json()> bgp_status;
  std::function<std::string()> bgp_metrics;
};

void register_routes(api::HttpServer& server, daemon::Controller& controller, kernel::ConntrackReader& conntrack,
                     const std::vector<kernel::SysctlReport>& sysctls, const cluster::KubeSource* kube,
                     OptionalViews views) {
  auto json = [](const nlohmann::json& j) { return api::HttpResponse{200, "application/json", j.dump(2)}; };
  server.handle_get("/v1/lb", [&, json](const api::Query&) { return json(daemon::lb_view(controller.snapshot())); });
  server.handle_get("/v1/ep", [&, json](const api::Query&) { return json(daemon::ep_view(controller.snapshot())); });
  server.handle_get("/v1/ct", [&, json](const api::Query&) {
    static std::mutex one_dump_at_a_time;  // the reader holds one ctnetlink handle
    std::unique_lock lock(one_dump_at_a_time);
    auto entries = conntrack.list();
    lock.unlock();
    if (!entries.ok()) return api::HttpResponse{503, "application/json",
                                                nlohmann::json{{"error", entries.error().describe()}}.dump()};
    return json(daemon::ct_view(controller.snapshot(), *entries));
  });
  server.handle_get("/v1/status", [&, json, kube](const api::Query&) {
    auto view = daemon::status_view(controller.snapshot(), sysctls);
    view["ready"] = ready(kube);
    if (kube) view["kubernetes"] = kube->status();
    return json(view);
  });
  server.handle_get("/readyz", [kube](const api::Query&) {
    return ready(kube) ? api::HttpResponse{200, "text/plain", "ok\n"}
                       : api::HttpResponse{503, "text/plain", "waiting for the first list of the cluster\n"};
  });
  server.handle_get("/metrics", [&, views](const api::Query&) {
    return api::HttpResponse{200, "text/plain; version=0.0.4",
                             daemon::metrics_text(controller.snapshot()) + (views.ha_metrics ? views.ha_metrics() : "") +
                                 (views.bgp_metrics ? views.bgp_metrics() : "")};
  });
  server.handle_get("/v1/ha", [json, views](const api::Query&) {
    if (!views.ha_status) return api::HttpResponse{404, "application/json", R"({"error": "HA is not configured"})"};
    return json(views.ha_status());
  });
  server.handle_get("/v1/bgp", [json, views](const api::Query&) {
    if (!views.bgp_status) return api::HttpResponse{404, "application/json", R"({"error": "BGP is not configured"})"};
    return json(views.bgp_status());
  });
}

}  // namespace

int main(int argc, char** argv) {
  // Few threads do real work (the loop, the API client's, the HA thread):
  // two malloc arenas keep memory freed by one thread reusable by the
  // others, so RSS reflects what kvlbd holds instead of growing per arena.
  mallopt(M_ARENA_MAX, 2);
  CLI::App app{"kvlbd: load balancer controller programming IPVS, nftables and VIPs"};
  std::string config_path, log_level = "info", state_dir = "/var/lib/kvlb";
  bool check_only = false, once = false;
  app.add_option("-c,--config", config_path, "YAML config file")->required();
  app.add_flag("--check", check_only, "validate the config and exit (status 2 if invalid)");
  app.add_flag("--once", once, "reconcile once and exit (status 1 if anything failed)");
  app.add_option("--state-dir", state_dir, "where kvlbd keeps the list of IPVS services it created")
      ->capture_default_str();
  app.add_option("--log-level", log_level, "trace, debug, info, warn, error")->capture_default_str();
  CLI11_PARSE(app, argc, argv);
  int sfd = block_signals_into_fd();
  spdlog::set_default_logger(spdlog::stderr_color_mt("kvlbd"));  // stdout is for --check's answer
  spdlog::set_level(spdlog::level::from_str(log_level));
  spdlog::set_pattern("%Y-%m-%dT%H:%M:%S.%e %^%l%$ %v");

  auto desired = load(config_path, true);
  if (!desired) return kExitConfigInvalid;
  if (check_only) {
    std::cout << config_path << ": OK, " << desired->services.size() << " services\n";
    return 0;
  }

  auto ipvs = kernel::NetlinkIpvsTable::open();
  auto nat = kernel::NetlinkNatTable::open();
  auto addresses = kernel::NetlinkAddressTable::open();
  for (const Error* e : {ipvs.ok() ? nullptr : &ipvs.error(), nat.ok() ? nullptr : &nat.error(),
                         addresses.ok() ? nullptr : &addresses.error()})
    if (e) {
      spdlog::critical("{}", e->describe());
      return 1;
    }
  kernel::ProcSysctl proc_sysctl;
  auto sysctls = kernel::ensure_data_plane_sysctls(proc_sysctl);
  if (desired->ha.enabled)
    for (auto& report : kernel::ensure_ha_sysctls(proc_sysctl)) sysctls.push_back(std::move(report));
  for (const auto& r : sysctls) {
    if (r.ok) spdlog::info("sysctl {} = {} (was {})", r.key, r.wanted, r.before.empty() ? "?" : r.before);
    else spdlog::warn("sysctl {} = {}: {}", r.key, r.wanted, r.error);
  }

  std::error_code mkdir_error;
  std::filesystem::create_directories(state_dir, mkdir_error);
  if (mkdir_error) spdlog::warn("state dir {}: {}", state_dir, mkdir_error.message());
  daemon::ManagedStore managed(state_dir + "/managed-services.json");

  // Only these settings are needed here; the controller owns the desired state.
  const std::string interface = desired->node.interface;
  const std::string api_listen = desired->settings.api_listen;
  const model::KubernetesSettings kube_settings = desired->kubernetes;
  auto resync_every = std::chrono::seconds(desired->settings.resync_interval_seconds);

  SteadyClock clock;
  daemon::KernelPorts ports{**ipvs, **nat, **addresses};
  daemon::Controller controller(ports, clock, &managed);

  // With a cluster, the config file's part is kept to merge the cluster's
  // services into whenever they change.
  std::unique_ptr<kube::KubeApi> kube_api;
  std::unique_ptr<cluster::KubeSource> kube;
  std::optional<model::DesiredState> file_state;
  std::vector<model::Service> cluster_services;
  int kube_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (kube_settings.enabled) {
    auto connected = connect_kubernetes(kube_settings);
    if (!connected.ok()) {
      spdlog::critical("kubernetes: {}", connected.error().describe());
      return 1;
    }
    kube_api = std::move(*connected);
    cluster::KubeSourceOptions options{kube_settings, desired->pools, desired->node.name};
    kube = std::make_unique<cluster::KubeSource>(*kube_api, clock, std::move(options), [kube_fd] {
      uint64_t one = 1;
      [[maybe_unused]] auto n = write(kube_fd, &one, sizeof one);
    });
  }
  file_state = *desired;
  // Per HA instance, what this node holds (the takeover sequence sets it).
  std::map<std::string, model::InstanceHold> holds;
  std::vector<std::string> last_conflicts;
  // BGP follows the desired state and this node's roles (the holds).
  std::unique_ptr<bgp::UnixSocketBirdControl> bird;
  std::unique_ptr<daemon::BgpRuntime> bgp;
  if (desired->bgp.enabled && !once) {
    bgp::BirdControlOptions options;
    options.socket_path = desired->bgp.bird_socket;
    bird = std::make_unique<bgp::UnixSocketBirdControl>(options);
    bgp = std::make_unique<daemon::BgpRuntime>(desired->bgp, *bird, clock);
  }
  std::unique_ptr<daemon::HaRuntime> ha;  // created below, once the first desired state is set
  auto set_desired = [&](const model::DesiredState& file) {
    model::DesiredState effective = file;
    effective.holds = holds;
    if (kube) {
      std::vector<std::string> conflicts;
      effective = daemon::with_cluster_services(effective, cluster_services, conflicts);
      if (conflicts != last_conflicts)
        for (const auto& c : conflicts) spdlog::warn("kubernetes: {}", c);
      last_conflicts = std::move(conflicts);
    }
    if (bgp) {
      // An instance is announced as MASTER once its addresses are up here
      // (the takeover raises BGP preference with them, and drops it with them).
      std::map<std::string, bool> master_of;
      for (const auto& [instance, hold] : holds) master_of[instance] = hold.addresses;
      bgp->update(effective, master_of);
    }
    if (ha) ha->desired_changed(effective);
    controller.set_desired(std::move(effective));
  };
  set_desired(*desired);

  int ha_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (desired->ha.enabled && !once) {
    daemon::HaCallbacks callbacks;
    callbacks.notify = [ha_fd] {
      uint64_t one = 1;
      [[maybe_unused]] auto n = write(ha_fd, &one, sizeof one);
    };
    callbacks.apply_holds = [&](const std::map<std::string, model::InstanceHold>& next) -> Status {
      holds = next;
      set_desired(*file_state);
      auto report = controller.reconcile(controller.needs_full_read());
      if (report.op_count > 0)
        spdlog::info("ha: reconciled: {} ops, {} errors, {} us", report.op_count, report.errors.size(),
                     report.took.count());
      if (bgp) bgp->apply();  // BGP preference follows the addresses, never leads them
      if (!report.errors.empty()) return Error::invalid(report.errors.front());
      return ok_status();
    };
    callbacks.sctp_endpoints = [&](const std::string& instance) {
      std::map<kernel::ConnKey, std::map<model::IpAddress, uint16_t>> out;
      auto add = [&](const model::Service& svc) {
        // Every NAT mode: conntrackd commits a default-mode flow's entry as a
        // DNAT too (IPVS rewrote its reply), with the same lost port.
        if (svc.instance != instance || svc.key.protocol != model::Protocol::Sctp)
          return;
        auto& ports = out[{svc.key.protocol, svc.key.vip, svc.key.port}];
        for (const auto& ep : svc.endpoints) ports[ep.ip] = ep.port;
      };
      for (const auto& svc : file_state->services) add(svc);
      for (const auto& svc : cluster_services) add(svc);
      return out;
    };
    auto created = daemon::HaRuntime::create(*desired, clock, std::move(callbacks));
    if (!created.ok()) {
      spdlog::critical("ha: {}", created.error().describe());
      return 1;
    }
    ha = std::move(*created);
  }
  desired.reset();
  if (kube) {
    kube->start();
    spdlog::info("kubernetes: watching Services of class {}{}; the data plane stays as it is until the first list",
                 kube_settings.load_balancer_class, kube_settings.include_classless ? " and class-less ones" : "");
  }

  if (once) {
    if (kube) {  // the cluster's services belong to the one reconcile
      auto deadline = clock.now() + 60s;
      while (!kube->synced() && clock.now() < deadline) std::this_thread::sleep_for(20ms);
      if (!kube->synced()) {
        spdlog::error("kubernetes: no complete list of the cluster within 60 s");
        return 1;
      }
      if (auto services = kube->take_services()) cluster_services = std::move(*services);
      set_desired(*file_state);
    }
    auto report = controller.reconcile(true);
    for (const auto& e : report.errors) spdlog::error("{}", e);
    spdlog::info("applied {} changes in {} us", report.applied, report.took.count());
    return report.errors.empty() ? 0 : 1;
  }

  std::mutex ha_mutex;
  std::unique_ptr<api::HttpServer> server;
  std::unique_ptr<kernel::NetfilterConntrackReader> conntrack;
  if (api_listen != "off") {
    auto reader = kernel::NetfilterConntrackReader::open();
    if (!reader.ok()) {
      spdlog::critical("{}", reader.error().describe());
      return 1;
    }
    conntrack = std::move(*reader);
    server = api::make_http_server(api_listen);
    OptionalViews views;
    if (ha) {
      // The HA runtime lives on the main loop: the API thread reads it under this lock.
      views.ha_status = [&] {
        std::lock_guard lock(ha_mutex);
        return ha->status();
      };
      views.ha_metrics = [&] {
        std::lock_guard lock(ha_mutex);
        return ha->metrics();
      };
    }
    if (bgp) {  // BgpRuntime has a lock of its own
      views.bgp_status = [&] { return bgp->status(); };
      views.bgp_metrics = [&] { return bgp->metrics(); };
    }
    register_routes(*server, controller, *conntrack, sysctls, kube.get(), views);
    if (auto st = server->start(); !st.ok()) {
      spdlog::critical("{}", st.error().describe());
      return 1;
    }
    spdlog::info("REST API on http://{}", api_listen);
  }

  if (ha) {
    // The first reconcile programs IPVS and SNAT (identical on both nodes)
    // before the node competes for mastership.
    controller.reconcile(true);
    std::lock_guard lock(ha_mutex);
    if (auto st = ha->start(); !st.ok()) {
      spdlog::critical("ha: {}", st.error().describe());
      return 1;
    }
  }

  auto config_stamp = stamp_of(config_path);
  auto next_resync = clock.now();
  auto retry_delay = 250ms;
  bool dirty = true;
  for (;;) {
    auto now = clock.now();
    // A change is applied first, from the cached view; a resync that falls
    // due at the same time reads the kernel right after it, so that a full
    // read never delays a change.
    bool full = controller.needs_full_read() || (now >= next_resync && !dirty);
    if (!ready(kube.get())) {
      dirty = full = false;  // fail static: nothing is added or deleted before the cluster was listed once
    }
    if (dirty || full) {
      auto report = controller.reconcile(full);
      if (report.op_count > 0)
        spdlog::info("reconciled: {} ops, {} applied, {} errors, {} us", report.op_count, report.applied,
                     report.errors.size(), report.took.count());
      dirty = !report.errors.empty();
      // Errors are retried with exponential backoff up to the resync interval.
      retry_delay = dirty ? std::min<std::chrono::milliseconds>(retry_delay * 2, resync_every) : 250ms;
      // A full read of a very large table is costly: never spend more than
      // a fifth of the time re-reading the kernel.
      if (full) {
        next_resync = clock.now() + std::max<std::chrono::steady_clock::duration>(resync_every, report.took * 4);
        // Give memory freed since (large objects from the API, old plans)
        // back to the system, so RSS shows what kvlbd really holds.
        malloc_trim(0);
      }
    }
    auto wake = std::min(next_resync, dirty ? clock.now() + retry_delay : next_resync);
    auto timeout = std::chrono::duration_cast<std::chrono::milliseconds>(wake - clock.now());
    if (!ready(kube.get())) timeout = std::chrono::milliseconds(1000);
    if (ha) timeout = std::min<std::chrono::milliseconds>(timeout, 200ms);  // conntrackd supervision
    if (bgp)
      timeout = std::min(timeout, std::max<std::chrono::milliseconds>(
                                      0ms, std::chrono::duration_cast<std::chrono::milliseconds>(bgp->next_tick() - clock.now())));
    pollfd pfds[3] = {{sfd, POLLIN, 0}, {ha_fd, POLLIN, 0}, {kube_fd, POLLIN, 0}};
    int polled = poll(pfds, kube ? 3 : 2, static_cast<int>(std::clamp<int64_t>(timeout.count(), 0, 1000)));
    bool reload = false;
    if (ha) {
      if (polled > 0 && (pfds[1].revents & POLLIN)) {
        uint64_t count = 0;
        [[maybe_unused]] auto n = read(ha_fd, &count, sizeof count);
      }
      std::lock_guard lock(ha_mutex);
      ha->on_wake();
      ha->tick();
    }
    if (bgp) bgp->tick();
    if (polled > 0 && kube && (pfds[2].revents & POLLIN)) {
      uint64_t count = 0;
      [[maybe_unused]] auto n = read(kube_fd, &count, sizeof count);
      if (auto services = kube->take_services()) {
        cluster_services = std::move(*services);
        set_desired(*file_state);
        dirty = true;
      }
    }
    if (polled > 0 && (pfds[0].revents & POLLIN)) {
      signalfd_siginfo info{};
      while (read(sfd, &info, sizeof info) == sizeof info) {
        if (info.ssi_signo == SIGHUP) reload = true;
        else {
          spdlog::info("signal {}: stopping; the kernel state stays as programmed", info.ssi_signo);
          // Nothing needs cleaning up, so a stop must never hang (e.g. on a
          // request to an API server that does not answer).
          std::thread([] {
            std::this_thread::sleep_for(10s);
            spdlog::error("stopping took more than 10 s: exiting anyway");
            _exit(0);
          }).detach();
          if (ha) {
            std::lock_guard lock(ha_mutex);
            ha->stop();  // the peer takes over at once; this node's addresses go
          }
          if (kube) kube->stop();
          if (server) server->stop();
          return 0;
        }
      }
    }
    if (auto stamp = stamp_of(config_path); !(stamp == config_stamp)) {
      // A file being written in place changes again within moments: wait
      // until it holds still, so half a file is never applied.
      std::this_thread::sleep_for(50ms);
      if (stamp == stamp_of(config_path)) {
        config_stamp = stamp;
        reload = true;
      }
    }
    if (reload) {
      spdlog::info("reloading {}", config_path);
      auto next = load(config_path, false);
      if (!next) {
        spdlog::error("config invalid: keeping the running state");
      } else if (next->node.interface != interface) {
        spdlog::error("config: node.interface changed from {} to {}: restart kvlbd to move the VIPs; "
                      "keeping the running state", interface, next->node.interface);
      } else {
        if (next->settings.api_listen != api_listen)
          spdlog::warn("config: api.listen changed to {}: takes effect when kvlbd restarts",
                       next->settings.api_listen);
        resync_every = std::chrono::seconds(next->settings.resync_interval_seconds);
        if (next->kubernetes.enabled != kube_settings.enabled || next->kubernetes.kubeconfig != kube_settings.kubeconfig ||
            next->kubernetes.in_cluster != kube_settings.in_cluster)
          spdlog::warn("config: how to reach the cluster changed: takes effect when kvlbd restarts");
        if (next->ha != file_state->ha) spdlog::warn("config: ha changed: takes effect when kvlbd restarts");
        if (next->bgp != file_state->bgp) {
          // Peers, policy and paths apply now (BIRD restarts only the sessions
          // of changed peers); switching BGP on or off, or to another BIRD
          // socket, needs a restart.
          if (bgp && next->bgp.enabled && next->bgp.bird_socket == file_state->bgp.bird_socket)
            bgp->set_settings(next->bgp);
          else
            spdlog::warn("config: bgp switched on or off, or birdSocket changed: takes effect when kvlbd restarts");
        }
        if (kube) kube->reconfigure(next->pools, next->kubernetes);
        file_state = *next;
        set_desired(*next);
        dirty = true;
      }
    }
  }
}
