// The bgp section of the config and the communities of services and pools.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "config/config_loader.h"

using kvlb::config::load_config_text;

namespace {

// A directory of password files, removed with them.
class PasswordFiles {
 public:
  PasswordFiles() {
    std::string pattern = (std::filesystem::temp_directory_path() / "kvlb-bgp-XXXXXX").string();
    if (::mkdtemp(pattern.data())) dir_ = pattern;
  }
  ~PasswordFiles() {
    std::error_code ignored;
    if (!dir_.empty()) std::filesystem::remove_all(dir_, ignored);
  }
  PasswordFiles(const PasswordFiles&) = delete;
  PasswordFiles& operator=(const PasswordFiles&) = delete;
  std::string write(const std::string& name, const std::string& content) const {
    std::ofstream(dir_ + "/" + name, std::ios::binary) << content;
    return dir_ + "/" + name;
  }
  std::string path(const std::string& name) const { return dir_ + "/" + name; }
  const std::string& dir() const { return dir_; }

 private:
  std::string dir_;
};

std::string config(const std::string& rest) { return "node: {name: lb1, interface: eth1}\n" + rest; }

std::vector<std::string> errors_of(const std::string& text) {
  std::vector<std::string> out;
  for (const auto& e : load_config_text(text, "kvlb.yaml").errors) out.push_back(e.str());
  return out;
}

// A valid section with one eBGP peer; `peer` adds keys to it.
std::string one_peer(const std::string& peer_keys, const std::string& section_keys = "") {
  return config("bgp:\n  localAS: 65000\n  routerId: 10.0.9.1\n" + section_keys +
                "  peers:\n    - address: 10.0.9.254\n      as: 64512\n" + peer_keys);
}

}  // namespace

TEST(ConfigBgp, ParsesEverySetting) {
  PasswordFiles files;
  const auto password = files.write("peer1", "s3cret #1\n");
  auto r = load_config_text(config(R"(pools:
  - {name: default, addresses: [20.0.0.0/28], communities: ["65000:1", "4200000000:7:8"]}
bgp:
  localAS: 4200000000
  routerId: 10.0.9.1
  birdConfig: /run/kvlb/b.conf
  birdSocket: /run/kvlb/b.ctl
  master: {med: 10, localPref: 200}
  backup: {mode: worse, asPathPrepend: 5, med: 100, localPref: 50}
  peers:
    - address: 10.0.9.254
      as: 64512
      passwordFile: )" + password + R"(
      multihop: 2
      localAddress: 10.0.9.1
      ttlSecurity: true
      gracefulRestart: true
      bfd: {minRxMs: 50, minTxMs: 100, multiplier: 5}
    - {address: "2001:db8:9::fe", as: 4200000000, bfd: {enabled: false}}
    - {address: 10.0.9.253, as: 64513, bfd: true}
services:
  - {name: web, vip: 20.0.0.1, port: 80, communities: [65000:80, "65535:65281"]}
)"),
                            "kvlb.yaml");
  ASSERT_TRUE(r.ok()) << r.errors.front().str();
  const auto& bgp = r.state.bgp;
  EXPECT_TRUE(bgp.enabled);
  EXPECT_EQ(bgp.local_as, 4200000000u);
  EXPECT_EQ(bgp.router_id.str(), "10.0.9.1");
  EXPECT_EQ(bgp.bird_config, "/run/kvlb/b.conf");
  EXPECT_EQ(bgp.bird_socket, "/run/kvlb/b.ctl");
  EXPECT_EQ(bgp.master.med, 10u);
  EXPECT_EQ(bgp.master.local_pref, 200u);
  EXPECT_EQ(bgp.backup.mode, kvlb::model::BgpBackupMode::Worse);
  EXPECT_EQ(bgp.backup.as_path_prepend, 5);
  EXPECT_EQ(bgp.backup.med, 100u);
  EXPECT_EQ(bgp.backup.local_pref, 50u);
  ASSERT_EQ(bgp.peers.size(), 3u);
  const auto& p = bgp.peers[0];
  EXPECT_EQ(p.address.str(), "10.0.9.254");
  EXPECT_EQ(p.as, 64512u);
  EXPECT_EQ(p.name(), "peer_10_0_9_254");
  EXPECT_EQ(p.password, "s3cret #1") << "without the line break";
  EXPECT_EQ(p.multihop, 2);
  EXPECT_EQ(p.local_address->str(), "10.0.9.1");
  EXPECT_TRUE(p.ttl_security);
  EXPECT_TRUE(p.graceful_restart);
  EXPECT_EQ(p.bfd, (kvlb::model::BgpBfd{true, 50, 100, 5}));
  EXPECT_EQ(bgp.peers[1].address.str(), "2001:db8:9::fe");
  EXPECT_FALSE(bgp.peers[1].bfd.enabled);
  EXPECT_FALSE(bgp.peers[1].password.has_value());
  EXPECT_FALSE(bgp.peers[1].multihop.has_value());
  EXPECT_EQ(bgp.peers[2].bfd, (kvlb::model::BgpBfd{true, 300, 300, 3})) << "bfd: true takes the default timers";
  ASSERT_EQ(r.state.pools.at(0).communities.size(), 2u);
  EXPECT_EQ(r.state.pools[0].communities[1].str(), "4200000000:7:8");
  ASSERT_EQ(r.state.services.at(0).communities.size(), 2u);
  EXPECT_EQ(r.state.services[0].communities[0].str(), "65000:80");
  EXPECT_EQ(r.state.services[0].communities[1].str(), "65535:65281");
}

TEST(ConfigBgp, Defaults) {
  auto r = load_config_text(one_peer(""), "kvlb.yaml");
  ASSERT_TRUE(r.ok()) << r.errors.front().str();
  const auto& bgp = r.state.bgp;
  EXPECT_EQ(bgp.bird_config, "/run/kvlb/bird.conf");
  EXPECT_EQ(bgp.bird_socket, "/run/bird/bird.ctl");
  EXPECT_EQ(bgp.backup.mode, kvlb::model::BgpBackupMode::Worse);
  EXPECT_EQ(bgp.backup.as_path_prepend, 3);
  EXPECT_FALSE(bgp.master.med || bgp.master.local_pref || bgp.backup.med || bgp.backup.local_pref);
  EXPECT_FALSE(bgp.peers.at(0).bfd.enabled || bgp.peers[0].ttl_security || bgp.peers[0].graceful_restart);
}

TEST(ConfigBgp, AbsentOrNullIsOff) {
  EXPECT_FALSE(load_config_text(config(""), "kvlb.yaml").state.bgp.enabled);
  auto r = load_config_text(config("bgp:\n"), "kvlb.yaml");
  ASSERT_TRUE(r.ok());
  EXPECT_FALSE(r.state.bgp.enabled);
}

TEST(ConfigBgp, MissingRequiredKeys) {
  EXPECT_EQ(errors_of(config("bgp: {master: {med: 1}}\n")),
            (std::vector<std::string>{"kvlb.yaml:2: bgp.localAS: is required", "kvlb.yaml:2: bgp.routerId: is required",
                                      "kvlb.yaml:2: bgp.peers: is required"}));
  EXPECT_EQ(errors_of(config("bgp: {localAS: 1, routerId: 10.0.0.1, peers: [{as: 2}, {address: 10.0.0.2}]}\n")),
            (std::vector<std::string>{"kvlb.yaml:2: bgp.peers[0].address: is required",
                                      "kvlb.yaml:2: bgp.peers[1].as: is required"}));
  EXPECT_EQ(errors_of(config("bgp: {localAS: 1, routerId: 10.0.0.1, peers: []}\n")),
            (std::vector<std::string>{"kvlb.yaml:2: bgp.peers: must be a non-empty list of the routers to announce to"}));
}

TEST(ConfigBgp, InvalidPeerAddress) {
  EXPECT_EQ(errors_of(config(R"(bgp:
  localAS: 65000
  routerId: 10.0.9.1
  peers:
    - {address: 10.0.9.300, as: 1}
    - {address: 224.0.0.5, as: 1}
    - {address: "fe80::1", as: 1}
    - {address: "::ffff:10.0.9.2", as: 1}
)")),
            (std::vector<std::string>{
                "kvlb.yaml:6: bgp.peers[0].address: not an IPv4 or IPv6 address (got 10.0.9.300)",
                "kvlb.yaml:7: bgp.peers[1].address: must be a unicast address, not unspecified, loopback, multicast or "
                "broadcast (got 224.0.0.5)",
                "kvlb.yaml:8: bgp.peers[2].address: a link-local neighbor needs an interface; use a global address (got "
                "fe80::1)",
                "kvlb.yaml:9: bgp.peers[3].address: an IPv4 address inside IPv6; give the IPv4 address (got "
                "::ffff:10.0.9.2)",
            }));
}

TEST(ConfigBgp, AsOutOfRange) {
  EXPECT_EQ(errors_of(config(R"(bgp:
  localAS: 0
  routerId: 10.0.9.1
  peers:
    - {address: 10.0.9.254, as: 4294967296}
    - {address: 10.0.9.253, as: -1}
    - {address: 10.0.9.252, as: 0}
)")),
            (std::vector<std::string>{
                "kvlb.yaml:3: bgp.localAS: must be 1..4294967295 (got 0)",
                "kvlb.yaml:6: bgp.peers[0].as: must be 1..4294967295 (got 4294967296)",
                "kvlb.yaml:7: bgp.peers[1].as: must be 1..4294967295 (got -1)",
                "kvlb.yaml:8: bgp.peers[2].as: must be 1..4294967295 (got 0)",
            }));
}

TEST(ConfigBgp, RouterIdMustBeIpv4) {
  EXPECT_EQ(errors_of(config("bgp:\n  localAS: 1\n  routerId: \"fd00::1\"\n  peers: [{address: 10.0.0.2, as: 2}]\n")),
            (std::vector<std::string>{"kvlb.yaml:4: bgp.routerId: must be an IPv4 address (got fd00::1)"}));
  EXPECT_EQ(errors_of(config("bgp:\n  localAS: 1\n  routerId: 65000\n  peers: [{address: 10.0.0.2, as: 2}]\n")),
            (std::vector<std::string>{"kvlb.yaml:4: bgp.routerId: must be an IPv4 address (got 65000)"}));
  EXPECT_EQ(errors_of(config("bgp:\n  localAS: 1\n  routerId: 0.0.0.0\n  peers: [{address: 10.0.0.2, as: 2}]\n")),
            (std::vector<std::string>{"kvlb.yaml:4: bgp.routerId: must not be 0.0.0.0"}));
}

TEST(ConfigBgp, DuplicatePeer) {
  EXPECT_EQ(errors_of(config(R"(bgp:
  localAS: 65000
  routerId: 10.0.9.1
  peers:
    - {address: "2001:db8::1", as: 1}
    - {address: 10.0.9.254, as: 1}
    - {address: "2001:DB8:0::1", as: 2}
)")),
            (std::vector<std::string>{
                "kvlb.yaml:8: bgp.peers[2].address: duplicate peer 2001:db8::1 (also bgp.peers[0])"}));
}

TEST(ConfigBgp, PasswordFile) {
  PasswordFiles files;
  const auto missing = files.path("missing");
  EXPECT_EQ(errors_of(one_peer("      passwordFile: " + missing + "\n")),
            (std::vector<std::string>{"kvlb.yaml:8: bgp.peers[0].passwordFile: cannot read " + missing +
                                      ": No such file or directory"}));
  const auto& dir = files.dir();
  EXPECT_EQ(errors_of(one_peer("      passwordFile: " + dir + "\n")),
            (std::vector<std::string>{"kvlb.yaml:8: bgp.peers[0].passwordFile: cannot read " + dir +
                                      ": Is a directory"}));
  const auto empty = files.write("empty", "\n");
  EXPECT_EQ(errors_of(one_peer("      passwordFile: " + empty + "\n")),
            (std::vector<std::string>{"kvlb.yaml:8: bgp.peers[0].passwordFile: the password in " + empty + " is empty"}));
  const auto quote = files.write("quote", "a\"b\n");
  EXPECT_EQ(errors_of(one_peer("      passwordFile: " + quote + "\n")),
            (std::vector<std::string>{"kvlb.yaml:8: bgp.peers[0].passwordFile: the password in " + quote +
                                      " must not contain '\"' (BIRD cannot quote it)"}));
  const auto lines = files.write("lines", "a\nb\n");
  EXPECT_EQ(errors_of(one_peer("      passwordFile: " + lines + "\n")),
            (std::vector<std::string>{"kvlb.yaml:8: bgp.peers[0].passwordFile: the password in " + lines +
                                      " must not contain control characters or line breaks"}));
  const auto longer = files.write("long", std::string(81, 'x'));
  EXPECT_EQ(errors_of(one_peer("      passwordFile: " + longer + "\n")),
            (std::vector<std::string>{"kvlb.yaml:8: bgp.peers[0].passwordFile: the password in " + longer +
                                      " longer than 80 bytes (the TCP MD5 key limit)"}));
  const auto ok = files.write("max", std::string(80, 'x') + "\r\n");
  auto r = load_config_text(one_peer("      passwordFile: " + ok + "\n"), "kvlb.yaml");
  ASSERT_TRUE(r.ok()) << r.errors.front().str();
  EXPECT_EQ(r.state.bgp.peers.at(0).password, std::string(80, 'x'));
}

TEST(ConfigBgp, PrependOutOfRange) {
  EXPECT_EQ(errors_of(one_peer("", "  backup: {asPathPrepend: 11}\n")),
            (std::vector<std::string>{"kvlb.yaml:5: bgp.backup.asPathPrepend: must be 0..10 (got 11)"}));
  EXPECT_TRUE(errors_of(one_peer("", "  backup: {asPathPrepend: 0}\n")).empty());
  EXPECT_TRUE(errors_of(one_peer("", "  backup: {asPathPrepend: 10}\n")).empty());
}

TEST(ConfigBgp, BfdOutOfRange) {
  EXPECT_EQ(errors_of(one_peer("      bfd: {minRxMs: 9, minTxMs: 10001, multiplier: 0}\n")),
            (std::vector<std::string>{"kvlb.yaml:8: bgp.peers[0].bfd.minRxMs: must be 10..10000 (got 9)",
                                      "kvlb.yaml:8: bgp.peers[0].bfd.minTxMs: must be 10..10000 (got 10001)",
                                      "kvlb.yaml:8: bgp.peers[0].bfd.multiplier: must be 1..255 (got 0)"}));
  EXPECT_EQ(errors_of(one_peer("      bfd: {multiplier: 256}\n")),
            (std::vector<std::string>{"kvlb.yaml:8: bgp.peers[0].bfd.multiplier: must be 1..255 (got 256)"}));
  EXPECT_TRUE(errors_of(one_peer("      bfd: {minRxMs: 10, minTxMs: 10000, multiplier: 255}\n")).empty());
  EXPECT_EQ(errors_of(one_peer("      bfd: yes\n")),
            (std::vector<std::string>{"kvlb.yaml:8: bgp.peers[0].bfd: must be true or false"}));
  EXPECT_EQ(errors_of(one_peer("      bfd: [1]\n")),
            (std::vector<std::string>{"kvlb.yaml:8: bgp.peers[0].bfd: must be true, false or a mapping"}));
}

TEST(ConfigBgp, BfdOnAMultihopSessionNeedsALocalAddress) {
  EXPECT_EQ(errors_of(one_peer("      multihop: 2\n      bfd: true\n")),
            (std::vector<std::string>{"kvlb.yaml:6: bgp.peers[0].localAddress: is required with bfd on an iBGP or "
                                      "multihop session (BFD's source address)"}));
  // iBGP sessions are multihop in BIRD.
  EXPECT_EQ(errors_of(config(R"(bgp:
  localAS: 65000
  routerId: 10.0.9.1
  backup: {localPref: 50}
  peers: [{address: 10.0.9.254, as: 65000, bfd: true}]
)")),
            (std::vector<std::string>{"kvlb.yaml:6: bgp.peers[0].localAddress: is required with bfd on an iBGP or "
                                      "multihop session (BFD's source address)"}));
  EXPECT_TRUE(errors_of(one_peer("      multihop: 2\n      bfd: true\n      localAddress: 10.0.9.1\n")).empty());
  EXPECT_TRUE(errors_of(one_peer("      bfd: true\n")).empty()) << "a direct eBGP session";
  EXPECT_EQ(errors_of(one_peer("      localAddress: \"fd00::1\"\n")),
            (std::vector<std::string>{"kvlb.yaml:8: bgp.peers[0].localAddress: address family differs from the peer's"}));
}

TEST(ConfigBgp, OtherBadValuesNameTheField) {
  EXPECT_EQ(errors_of(one_peer("      multihop: 0\n      ttlSecurity: maybe\n      color: red\n",
                               "  backup: {mode: hide, med: -1}\n  master: {localPref: 4294967296}\n"
                               "  birdConfig: bird.conf\n  birdSocket: /" + std::string(107, 's') + "\n")),
            (std::vector<std::string>{
                "kvlb.yaml:5: bgp.backup.mode: unknown mode 'hide' (withhold, worse)",
                "kvlb.yaml:5: bgp.backup.med: must be 0..4294967295 (got -1)",
                "kvlb.yaml:6: bgp.master.localPref: must be 0..4294967295 (got 4294967296)",
                "kvlb.yaml:7: bgp.birdConfig: must be an absolute path (got \"bird.conf\")",
                "kvlb.yaml:8: bgp.birdSocket: longer than 107 bytes",
                "kvlb.yaml:12: bgp.peers[0].multihop: must be 1..255 (got 0)",
                "kvlb.yaml:13: bgp.peers[0].ttlSecurity: must be true or false",
                "kvlb.yaml:14: bgp.peers[0].color: unknown key",
            }));
}

TEST(ConfigBgp, WorseForAnIbgpPeerNeedsLocalPrefOrMed) {
  const std::string ibgp = "bgp:\n  localAS: 65000\n  routerId: 10.0.9.1\n  peers: [{address: 10.0.9.254, as: 65000}]\n";
  EXPECT_EQ(errors_of(config(ibgp)),
            (std::vector<std::string>{"kvlb.yaml:3: bgp.backup: mode worse needs localPref or med for iBGP peer "
                                      "10.0.9.254 (AS path prepends are for eBGP peers only)"}));
  EXPECT_TRUE(errors_of(config(ibgp + "  backup: {localPref: 50}\n")).empty());
  EXPECT_TRUE(errors_of(config(ibgp + "  backup: {med: 100}\n")).empty());
  EXPECT_TRUE(errors_of(config(ibgp + "  backup: {mode: withhold}\n")).empty());
}

TEST(ConfigBgp, MalformedCommunity) {
  EXPECT_EQ(errors_of(config(R"(pools:
  - {name: a, addresses: [20.0.0.0/28], communities: ["65536:1"]}
  - {name: b, addresses: [20.0.1.0/28], communities: "65000:1"}
services:
  - name: web
    vip: 20.0.0.1
    port: 80
    communities: ["65000:1", "no-export", "1:2:3:4", "4294967296:0:0", "65000:1", {a: 1}]
)")),
            (std::vector<std::string>{
                "kvlb.yaml:3: pools[0].communities[0]: not a BGP community (got 65536:1): asn:value with both 0..65535, "
                "or a large community a:b:c with each 0..4294967295",
                "kvlb.yaml:4: pools[1].communities: must be a list",
                "kvlb.yaml:9: services[0].communities[1]: not a BGP community (got no-export): asn:value with both "
                "0..65535, or a large community a:b:c with each 0..4294967295",
                "kvlb.yaml:9: services[0].communities[2]: not a BGP community (got 1:2:3:4): asn:value with both "
                "0..65535, or a large community a:b:c with each 0..4294967295",
                "kvlb.yaml:9: services[0].communities[3]: not a BGP community (got 4294967296:0:0): asn:value with "
                "both 0..65535, or a large community a:b:c with each 0..4294967295",
                "kvlb.yaml:9: services[0].communities[4]: duplicate community 65000:1",
                "kvlb.yaml:9: services[0].communities[5]: must be a string",
            }));
}
