// kvlbctl: shows what kvlbd has programmed, through kvlbd's REST API.
#include <CLI/CLI.hpp>
#include <iostream>
#include <nlohmann/json.hpp>

#include "api/http.h"
#include "cli/table.h"

namespace {

using nlohmann::json;
using Rows = std::vector<std::vector<std::string>>;

std::string text(const json& v) {
  if (v.is_string()) return v.get<std::string>();
  if (v.is_null()) return "-";
  if (v.is_boolean()) return v.get<bool>() ? "yes" : "no";
  return v.dump();
}

void print_lb(const json& items) {
  Rows rows;
  for (const auto& s : items)
    rows.push_back({text(s["vip"]), text(s["port"]), text(s["protocol"]), text(s["name"]), text(s["scheduler"]),
                    text(s["mode"]), text(s["endpoints"]), s["programmed"].get<bool>() ? "programmed" : "pending"});
  std::cout << kvlb::cli::render_table({"EXT IP", "PORT", "PROTO", "NAME", "SEL", "MODE", "# OF ENDPOINTS", "STATUS"},
                                       rows);
}

void print_ep(const json& items) {
  Rows rows;
  for (const auto& e : items)
    rows.push_back({text(e["service"]), text(e["vs"]), text(e["endpoint"]), text(e["weight"]),
                    text(e["kernelWeight"]), text(e["activeConns"]), text(e["inactiveConns"]), text(e["state"])});
  std::cout << kvlb::cli::render_table(
      {"SERVICE", "VIRTUAL SERVICE", "ENDPOINT", "WEIGHT", "KERNEL WEIGHT", "ACTIVE", "INACTIVE", "STATE"}, rows);
}

void print_ct(const json& items) {
  Rows rows;
  for (const auto& c : items)
    rows.push_back({text(c["service"]), text(c["client"]), text(c["vip"]), text(c["endpoint"]), text(c["snatSource"]),
                    text(c["protocol"]), text(c["state"]), text(c["bytes"])});
  std::cout << kvlb::cli::render_table({"SERVICE", "CLIENT", "VIP", "ENDPOINT", "SNAT SOURCE", "PROTO", "STATE", "BYTES"},
                                       rows);
}

void print_status(const json& s) {
  std::cout << "node:      " << text(s["node"]) << " (" << text(s["interface"]) << ")\n"
            << "ready:     " << text(s.value("ready", json(true))) << "\n"
            << "synced:    " << text(s["synced"]) << "\n"
            << "services:  " << text(s["services"]) << "\n";
  if (s.contains("kubernetes")) {
    const auto& k = s["kubernetes"];
    std::cout << "cluster:   " << (k["synced"].get<bool>() ? "listed" : "waiting for the first list") << ", "
              << text(k["servicesServed"]) << " Services served, " << text(k["virtualServices"])
              << " virtual services\n";
    for (const auto& i : k["informers"])
      std::cout << "watch:     " << text(i["name"]) << ": " << text(i["lists"]) << " lists ("
                << text(i["relistsAfterGone"]) << " after 410), " << text(i["watches"]) << " watches, "
                << text(i["events"]) << " events, " << text(i["errors"]) << " errors"
                << (text(i["lastError"]).empty() ? "" : "; last: " + text(i["lastError"])) << "\n";
    for (const auto& p : k["pools"])
      std::cout << "pool:      " << text(p["name"]) << ": IPv4 " << text(p["usedV4"]) << "/" << text(p["sizeV4"])
                << ", IPv6 " << text(p["usedV6"]) << "/" << text(p["sizeV6"]) << "\n";
    for (const auto& [service, problems] : k["problems"].items())
      for (const auto& p : problems) std::cout << "problem:   " << service << ": " << text(p) << "\n";
  }
  for (const auto& p : s["problems"]) std::cout << "problem:   " << text(p) << "\n";
  for (const auto& e : s["lastErrors"]) std::cout << "error:     " << text(e) << "\n";
  for (const auto& r : s["sysctls"])
    std::cout << "sysctl:    " << text(r["key"]) << " = " << text(r["wanted"]) << (r["ok"].get<bool>() ? "" : " FAILED")
              << "\n";
  for (const auto& [k, v] : s["counters"].items()) std::cout << "counter:   " << k << " " << text(v) << "\n";
}

void print_ha(const json& h) {
  Rows rows;
  for (const auto& i : h["instances"])
    rows.push_back({text(i["name"]), text(i["role"]), text(i["priority"]), text(i["preempt"]), text(i["master"]),
                    text(i["becameMaster"]), text(i.value("lastChange", json("")))});
  std::cout << kvlb::cli::render_table({"INSTANCE", "ROLE", "PRIORITY", "PREEMPT", "MASTER", "TAKEOVERS", "LAST CHANGE"},
                                       rows);
  std::cout << "node:      " << text(h["address"]) << ", synced " << text(h["synced"]) << "\n";
  for (const auto& i : h["instances"])
    if (i.value("peerConfigDiffers", false))
      std::cout << "WARNING:   instance " << text(i["name"])
                << ": the peer's services or floating addresses differ from this node's\n";
  const auto& a = h["adverts"];
  std::cout << "adverts:   " << text(a["accepted"]) << " accepted; dropped: " << text(a["malformed"]) << " malformed, "
            << text(a["badAuth"]) << " bad auth, " << text(a["replayed"]) << " replayed, " << text(a["unknownPeer"])
            << " unknown peer, " << text(a["sourceMismatch"]) << " source mismatch; " << text(a["configMismatch"])
            << " from a peer configured differently\n";
  if (h.contains("syncLink"))
    std::cout << "sync link: " << text(h["syncLink"]["interface"]) << " to " << text(h["syncLink"]["peer"])
              << (h["syncLink"]["alarm"].get<bool>() ? ": ALARM, no probe for " : ": ok, last probe ")
              << text(h["syncLink"]["lastProbeMsAgo"]) << " ms ago\n";
  if (h["sync"].contains("conntrackd"))
    std::cout << "conntrackd: " << (h["sync"]["conntrackd"]["running"].get<bool>() ? "running" : "NOT running")
              << (text(h["sync"]["conntrackd"]["lastError"]).empty() ? "" : "; last error: " +
                                                                          text(h["sync"]["conntrackd"]["lastError"]))
              << "\n";
  for (const auto& t : h["takeovers"]) {
    std::cout << "takeover:  " << text(t["instance"]) << " -> " << text(t["to"]) << " in " << t["us"].get<int64_t>() / 1000
              << " ms" << (t["hitless"].get<bool>() ? "" : " (NOT hitless)") << ":";
    for (const auto& s : t["steps"])
      std::cout << " " << text(s["step"]) << (s["ok"].get<bool>() ? "" : " FAILED") << " " << s["us"].get<int64_t>() / 1000
                << "ms;";
    std::cout << "\n";
  }
}

void print_bgp(const json& b) {
  Rows peers;
  for (const auto& p : b["peers"])
    peers.push_back({text(p["name"]), text(p.value("address", json(""))), text(p.value("as", json(""))),
                     text(p.value("bgpState", p["state"])), text(p["since"]), text(p["exported"]),
                     text(p.value("lastError", json("")))});
  std::cout << kvlb::cli::render_table({"PEER", "ADDRESS", "AS", "STATE", "SINCE", "EXPORTED", "LAST ERROR"}, peers);
  Rows routes;
  for (const auto& r : b["routes"]) {
    std::string communities;
    for (const auto& c : r["communities"]) communities += (communities.empty() ? "" : " ") + text(c);
    routes.push_back({text(r["vip"]), text(r["role"]), communities});
  }
  std::cout << kvlb::cli::render_table({"VIP", "ANNOUNCED AS", "COMMUNITIES"}, routes);
  std::cout << "bird:      " << (b["birdUp"].get<bool>() ? "running" : "NOT running") << " (" << text(b["socket"])
            << "), " << (b["loaded"].get<bool>() ? "runs kvlb's config " : "does NOT run kvlb's current config ")
            << text(b["config"]) << "\n";
  std::cout << "loads:     " << text(b["loads"]["ok"]) << " ok, " << text(b["loads"]["rejected"]) << " rejected, "
            << text(b["loads"]["unreachable"]) << " with BIRD unreachable; last took "
            << b["lastLoadMicros"].get<int64_t>() / 1000 << " ms\n";
  if (!text(b["lastError"]).empty()) std::cout << "error:     " << text(b["lastError"]) << "\n";
  if (b.contains("birdError")) std::cout << "error:     " << text(b["birdError"]) << "\n";
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"kvlbctl: inspect kvlbd"};
  std::string server = "http://127.0.0.1:7711", output = "table", what;
  app.add_option("-s,--server", server, "kvlbd REST API address")->envname("KVLB_SERVER")->capture_default_str();
  app.add_option("-o,--output", output, "table or json")->check(CLI::IsMember({"table", "json"}));
  auto* get = app.add_subcommand("get", "show objects");
  get->add_option("what", what, "lb | ep | ct | status | ha | bgp")
      ->required()
      ->check(CLI::IsMember({"lb", "ep", "ct", "status", "ha", "bgp"}));
  get->add_option("-o,--output", output, "table or json")->check(CLI::IsMember({"table", "json"}));
  app.require_subcommand(1);
  CLI11_PARSE(app, argc, argv);

  auto client = kvlb::api::make_http_client(server);
  auto response = client->get("/v1/" + what);
  if (!response.ok()) {
    std::cerr << "kvlbctl: " << response.error().describe() << "\n";
    return 1;
  }
  json body = json::parse(response->body, nullptr, false);
  if (response->status != 200 || body.is_discarded()) {
    std::cerr << "kvlbctl: " << server << " answered " << response->status << ": " << response->body << "\n";
    return 1;
  }
  if (output == "json") {
    std::cout << body.dump(2) << "\n";
    return 0;
  }
  if (what == "lb") print_lb(body);
  else if (what == "ep") print_ep(body);
  else if (what == "ct") print_ct(body);
  else if (what == "ha") print_ha(body);
  else if (what == "bgp") print_bgp(body);
  else print_status(body);
  return 0;
}
