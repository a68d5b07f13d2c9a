// BGP at scale, natively (no emulation): N VIPs rendered into BIRD's config
// (announced_routes + render_bird_config), checked by a running BIRD
// (`configure check`) and loaded (`configure`), first all of them, then with
// one VIP more. BIRD runs in a private network namespace of this process
// (root). Prints one JSON object.
#include <sched.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>
#include <thread>

#include "bgp/bird/bird_socket_control.h"
#include "bgp/bird_config.h"
#include "bgp/routes.h"

namespace {

using namespace kvlb;
using Clock = std::chrono::steady_clock;

double ms_since(Clock::time_point start) {
  return std::chrono::duration<double, std::milli>(Clock::now() - start).count();
}

model::DesiredState state_with(std::size_t vips) {
  model::DesiredState d;
  for (std::size_t i = 0; i < vips; ++i) {
    model::Service s;
    s.name = "bench/v" + std::to_string(i);
    // 198.18.0.0/15 is reserved for benchmarks.
    s.key = {model::IpAddress::from_v4({198, static_cast<uint8_t>(18 + i / 65536 % 2), static_cast<uint8_t>(i / 256 % 256),
                                        static_cast<uint8_t>(i % 256)}),
             80, model::Protocol::Tcp};
    s.communities = {*model::Community::parse("65001:" + std::to_string(i % 100))};
    d.services.push_back(s);
  }
  return d;
}

model::BgpSettings settings() {
  model::BgpSettings b;
  b.enabled = true;
  b.local_as = 65001;
  b.router_id = *model::IpAddress::parse("10.0.9.1");
  for (const char* address : {"10.0.9.253", "10.0.9.254"}) {
    model::BgpPeer peer;
    peer.address = *model::IpAddress::parse(address);
    peer.as = 65000;
    b.peers.push_back(peer);
  }
  return b;
}

struct Rendered {
  std::string text;
  double routes_ms = 0, render_ms = 0;
};

Rendered render(const model::BgpSettings& b, const model::DesiredState& d) {
  Rendered r;
  auto start = Clock::now();
  auto routes = bgp::announced_routes(d, {});
  r.routes_ms = ms_since(start);
  start = Clock::now();
  r.text = bgp::render_bird_config(b, routes);
  r.render_ms = ms_since(start);
  return r;
}

void write(const std::string& path, const std::string& text) { std::ofstream(path) << text; }

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"kvlb_bench_bgp: render, check and load N VIPs into a real BIRD"};
  std::size_t vips = 10000;
  std::string bird = "/usr/sbin/bird";
  app.add_option("--vips", vips, "service IPs")->capture_default_str();
  app.add_option("--bird", bird, "BIRD binary")->capture_default_str();
  CLI11_PARSE(app, argc, argv);

  if (unshare(CLONE_NEWNET) != 0) {
    std::cerr << "kvlb_bench_bgp: needs root (a private network namespace for BIRD)\n";
    return 1;
  }
  std::system("ip link set lo up");
  auto dir = std::filesystem::temp_directory_path() / ("kvlb-bench-bgp-" + std::to_string(getpid()));
  std::filesystem::create_directories(dir);
  const std::string config = dir / "bird.conf", socket = dir / "bird.ctl";

  auto b = settings();
  auto all = render(b, state_with(vips));
  write(config, all.text);
  pid_t pid = fork();
  if (pid == 0) {
    execl(bird.c_str(), bird.c_str(), "-f", "-c", config.c_str(), "-s", socket.c_str(), static_cast<char*>(nullptr));
    _exit(127);
  }
  bgp::UnixSocketBirdControl control({.socket_path = socket, .bird_binary = bird});
  auto start = Clock::now();
  while (!control.status().ok() && ms_since(start) < 60000) std::this_thread::sleep_for(std::chrono::milliseconds(20));
  const double bird_start_ms = ms_since(start);

  nlohmann::json out;
  out["vips"] = vips;
  out["bird_start_ms"] = bird_start_ms;
  out["all"] = {{"routes_ms", all.routes_ms}, {"render_ms", all.render_ms}, {"bytes", all.text.size()}};
  start = Clock::now();
  auto checked = control.check_config_in_daemon(config);
  out["all"]["check_ms"] = ms_since(start);
  start = Clock::now();
  auto loaded = control.configure(config);
  out["all"]["configure_ms"] = ms_since(start);
  start = Clock::now();
  auto checked_p = control.check_config(config);
  out["all"]["bird_p_ms"] = ms_since(start);

  auto one_more = render(b, state_with(vips + 1));
  write(config, one_more.text);
  out["one_more"] = {{"routes_ms", one_more.routes_ms}, {"render_ms", one_more.render_ms}};
  start = Clock::now();
  auto checked1 = control.check_config_in_daemon(config);
  out["one_more"]["check_ms"] = ms_since(start);
  start = Clock::now();
  auto loaded1 = control.configure(config);
  out["one_more"]["configure_ms"] = ms_since(start);
  auto count = control.route_count();
  out["routes_in_bird"] = count.ok() ? count->routes : 0;
  out["ok"] = checked.ok() && loaded.ok() && checked_p.ok() && checked1.ok() && loaded1.ok() && count.ok() &&
              count->routes == vips + 1;
  for (const auto* r : {&checked, &loaded, &checked_p, &checked1, &loaded1})
    if (!r->ok()) out["error"] = r->error().describe();

  kill(pid, SIGTERM);
  waitpid(pid, nullptr, 0);
  std::filesystem::remove_all(dir);
  std::cout << out.dump(2) << "\n";
  return out["ok"].get<bool>() ? 0 : 1;
}
