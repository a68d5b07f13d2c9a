// The fake must behave like the kernel where callers can tell the difference.
#include "fakes/fake_nat.h"

#include <gtest/gtest.h>

#include <cerrno>

#include "nft_test_support.h"

namespace kvlb::fakes {
namespace {

using kernel::NatBatch;
using model::Protocol;
using nft_test::snat;

using nft_test::kDns;
using nft_test::kWeb;
using nft_test::kWeb6;
using nft_test::recreate_with;

NatBatch adding(std::vector<model::SnatRule> add) {
  NatBatch batch;
  batch.add = std::move(add);
  return batch;
}

NatBatch removing(std::vector<model::SnatRule> remove) {
  NatBatch batch;
  batch.remove = std::move(remove);
  return batch;
}

NatBatch dropping(std::vector<model::IpAddress> add, std::vector<model::IpAddress> remove = {}) {
  NatBatch batch;
  batch.drop_add = std::move(add);
  batch.drop_remove = std::move(remove);
  return batch;
}

const model::IpAddress kVip = nft_test::ip("20.20.20.1");
const model::IpAddress kVip6 = nft_test::ip("fd00::1");

TEST(FakeNatTable, StartsWithoutTable) {
  FakeNatTable table;
  auto observed = table.read();
  ASSERT_TRUE(observed.ok());
  EXPECT_FALSE(observed->intact);
  EXPECT_TRUE(observed->snat.empty());
  EXPECT_EQ(table.writes(), 0u);
}

TEST(FakeNatTable, RecreateThenReadBack) {
  FakeNatTable table;
  ASSERT_TRUE(table.apply(recreate_with({kWeb, kWeb6})).ok());
  auto observed = table.read();
  ASSERT_TRUE(observed.ok());
  EXPECT_TRUE(observed->intact);
  EXPECT_EQ(observed->snat, (std::set<model::SnatRule>{kWeb, kWeb6}));
  EXPECT_EQ(table.writes(), 1u);
  EXPECT_EQ(table.ops(), (std::vector<std::string>{"RECREATE table inet kvlb",
                                                   "ADD snat 20.20.20.1:80/tcp -> 20.20.20.1",
                                                   "ADD snat [fd00::1]:80/tcp -> fd00::1"}));
}

TEST(FakeNatTable, RecreateReplacesEverythingAndIgnoresRemovals) {
  FakeNatTable table;
  ASSERT_TRUE(table.apply(recreate_with({kWeb})).ok());
  NatBatch batch = recreate_with({kDns});
  batch.remove = {kWeb6};  // would be ENOENT if it were applied
  ASSERT_TRUE(table.apply(batch).ok());
  EXPECT_EQ(table.snat(), std::set<model::SnatRule>{kDns});
}

TEST(FakeNatTable, ElementOpsWithoutTableFailWithEnoent) {
  FakeNatTable table;
  auto status = table.apply(adding({kWeb}));
  ASSERT_FALSE(status.ok());
  EXPECT_EQ(status.error().code.value(), ENOENT);
  EXPECT_EQ(status.error().context, "nft add snat 20.20.20.1:80/tcp -> 20.20.20.1");
  EXPECT_FALSE(table.table_present());
  EXPECT_EQ(table.writes(), 0u);
}

TEST(FakeNatTable, AddingAnExistingKeyFailsWithEexistEvenWithAnotherAddress) {
  FakeNatTable table;
  ASSERT_TRUE(table.apply(recreate_with({kWeb})).ok());
  auto same = table.apply(adding({kWeb}));
  ASSERT_FALSE(same.ok());
  EXPECT_EQ(same.error().code.value(), EEXIST);
  auto other_address = table.apply(adding({snat("20.20.20.1", 80, Protocol::Tcp, "10.0.0.1")}));
  ASSERT_FALSE(other_address.ok());
  EXPECT_EQ(other_address.error().code.value(), EEXIST);
  EXPECT_EQ(table.snat(), std::set<model::SnatRule>{kWeb});
}

TEST(FakeNatTable, DeletingAMissingElementFailsWithEnoent) {
  FakeNatTable table;
  ASSERT_TRUE(table.apply(recreate_with({kWeb})).ok());
  auto status = table.apply(removing({kDns}));
  ASSERT_FALSE(status.ok());
  EXPECT_EQ(status.error().code.value(), ENOENT);
  EXPECT_EQ(status.error().context, "nft delete snat 20.20.20.1:53/udp -> 20.20.20.1");
}

TEST(FakeNatTable, DeletionMatchesByKeyLikeTheKernel) {
  FakeNatTable table;
  ASSERT_TRUE(table.apply(recreate_with({kWeb})).ok());
  ASSERT_TRUE(table.apply(removing({snat("20.20.20.1", 80, Protocol::Tcp, "10.9.9.9")})).ok());
  EXPECT_TRUE(table.snat().empty());
}

TEST(FakeNatTable, ChangingAnAddressIsRemoveThenAddInOneBatch) {
  FakeNatTable table;
  ASSERT_TRUE(table.apply(recreate_with({kWeb})).ok());
  auto moved = snat("20.20.20.1", 80, Protocol::Tcp, "192.168.50.10");
  NatBatch batch = adding({moved});
  batch.remove = {kWeb};
  ASSERT_TRUE(table.apply(batch).ok());
  EXPECT_EQ(table.snat(), std::set<model::SnatRule>{moved});
}

TEST(FakeNatTable, FailedBatchLeavesNoPartialState) {
  FakeNatTable table;
  ASSERT_TRUE(table.apply(recreate_with({kWeb})).ok());
  table.clear_ops();
  // Two good additions, one good removal, one removal of a missing element.
  NatBatch batch = adding({kDns, kWeb6});
  batch.remove = {kWeb, snat("9.9.9.9", 1, Protocol::Udp, "9.9.9.9")};
  auto status = table.apply(batch);
  ASSERT_FALSE(status.ok());
  EXPECT_EQ(status.error().code.value(), ENOENT);
  EXPECT_EQ(status.error().context, "nft delete snat 9.9.9.9:1/udp -> 9.9.9.9");
  EXPECT_EQ(table.snat(), std::set<model::SnatRule>{kWeb});
  EXPECT_TRUE(table.ops().empty());
  EXPECT_EQ(table.writes(), 1u);
  EXPECT_EQ(table.failed_applies(), 1u);
}

TEST(FakeNatTable, ReportsHowManyMessagesFailed) {
  FakeNatTable table;
  ASSERT_TRUE(table.apply(recreate_with({kWeb, kDns})).ok());
  auto status = table.apply(adding({kWeb, kDns}));
  ASSERT_FALSE(status.ok());
  EXPECT_EQ(status.error().context, "nft add snat 20.20.20.1:80/tcp -> 20.20.20.1 [and 1 more failed]");
}

TEST(FakeNatTable, DuplicateInOneBatchFailsLikeTheKernel) {
  FakeNatTable table;
  ASSERT_TRUE(table.apply(recreate_with({})).ok());
  auto status = table.apply(adding({kDns, kDns}));
  ASSERT_FALSE(status.ok());
  EXPECT_EQ(status.error().code.value(), EEXIST);
  EXPECT_TRUE(table.snat().empty());
}

TEST(FakeNatTable, EmptyBatchIsNotAWrite) {
  FakeNatTable table;
  EXPECT_TRUE(table.apply(NatBatch{}).ok());
  EXPECT_EQ(table.writes(), 0u);
}

TEST(FakeNatTable, MixedFamiliesAreInvalid) {
  FakeNatTable table;
  auto status = table.apply(recreate_with({snat("20.20.20.1", 80, Protocol::Tcp, "fd00::1")}));
  ASSERT_FALSE(status.ok());
  EXPECT_EQ(status.error().code, std::errc::invalid_argument);
  EXPECT_FALSE(table.table_present());
}

TEST(FakeNatTable, DriftDeletedTableReadsAsNotIntact) {
  FakeNatTable table;
  ASSERT_TRUE(table.apply(recreate_with({kWeb})).ok());
  table.delete_table();
  auto observed = table.read();
  ASSERT_TRUE(observed.ok());
  EXPECT_FALSE(observed->intact);
  EXPECT_EQ(table.apply(removing({kWeb})).error().code.value(), ENOENT);
  ASSERT_TRUE(table.apply(recreate_with({kWeb})).ok());
  EXPECT_TRUE(table.read()->intact);
}

TEST(FakeNatTable, DriftDamagedLayoutKeepsElementsButIsNotIntactUntilRecreated) {
  FakeNatTable table;
  ASSERT_TRUE(table.apply(recreate_with({kWeb})).ok());
  table.damage_layout();
  EXPECT_FALSE(table.read()->intact);
  EXPECT_TRUE(table.read()->snat.empty());
  ASSERT_TRUE(table.apply(adding({kDns})).ok());  // the maps are still there
  EXPECT_FALSE(table.intact());
  ASSERT_TRUE(table.apply(recreate_with({kWeb})).ok());
  EXPECT_TRUE(table.read()->intact);
}

TEST(FakeNatTable, DriftElementsChangedByOthers) {
  FakeNatTable table;
  ASSERT_TRUE(table.apply(recreate_with({kWeb})).ok());
  table.put_element(kDns);
  table.erase_element(kWeb.match);
  EXPECT_EQ(table.read()->snat, std::set<model::SnatRule>{kDns});
}

TEST(FakeNatTable, InjectedFailuresHitOnceAndChangeNothing) {
  FakeNatTable table;
  table.fail_next_apply(Error::from_errno(ENOBUFS, "nft batch"));
  auto status = table.apply(recreate_with({kWeb}));
  ASSERT_FALSE(status.ok());
  EXPECT_EQ(status.error().code.value(), ENOBUFS);
  EXPECT_FALSE(table.table_present());
  EXPECT_TRUE(table.apply(recreate_with({kWeb})).ok());

  table.fail_next_read(Error::from_errno(EINTR, "nft read"));
  EXPECT_FALSE(table.read().ok());
  EXPECT_TRUE(table.read().ok());
}

// ---- drop set ----

TEST(FakeNatTable, DropElementsAreAddedRemovedAndReadBack) {
  FakeNatTable table;
  ASSERT_TRUE(table.apply(recreate_with({kWeb})).ok());
  table.clear_ops();
  ASSERT_TRUE(table.apply(dropping({kVip, kVip6})).ok());
  auto observed = table.read();
  ASSERT_TRUE(observed.ok());
  EXPECT_TRUE(observed->intact);
  EXPECT_EQ(observed->dropped_vips, (std::set<model::IpAddress>{kVip, kVip6}));
  EXPECT_EQ(observed->snat, std::set<model::SnatRule>{kWeb});

  ASSERT_TRUE(table.apply(dropping({}, {kVip})).ok());
  EXPECT_EQ(table.dropped_vips(), std::set<model::IpAddress>{kVip6});
  EXPECT_EQ(table.ops(), (std::vector<std::string>{"ADD drop 20.20.20.1", "ADD drop fd00::1", "DEL drop 20.20.20.1"}));
  EXPECT_EQ(table.writes(), 3u);
}

TEST(FakeNatTable, DropOnlyBatchIsNotEmpty) {
  EXPECT_FALSE(dropping({kVip}).empty());
  EXPECT_FALSE(dropping({}, {kVip}).empty());
  EXPECT_TRUE(NatBatch{}.empty());
}

TEST(FakeNatTable, DroppingAnAddressTwiceFailsWithEexist) {
  // kvlb adds with NLM_F_EXCL (as for SNAT elements): the kernel answers EEXIST.
  FakeNatTable table;
  ASSERT_TRUE(table.apply(recreate_with({})).ok());
  ASSERT_TRUE(table.apply(dropping({kVip})).ok());
  auto again = table.apply(dropping({kVip}));
  ASSERT_FALSE(again.ok());
  EXPECT_EQ(again.error().code.value(), EEXIST);
  EXPECT_EQ(again.error().context, "nft add drop 20.20.20.1");
  auto twice = table.apply(dropping({kVip6, kVip6}));
  ASSERT_FALSE(twice.ok());
  EXPECT_EQ(twice.error().code.value(), EEXIST);
  EXPECT_EQ(table.dropped_vips(), std::set<model::IpAddress>{kVip});
}

TEST(FakeNatTable, UndroppingAMissingAddressFailsWithEnoent) {
  FakeNatTable table;
  ASSERT_TRUE(table.apply(recreate_with({})).ok());
  auto status = table.apply(dropping({}, {kVip6}));
  ASSERT_FALSE(status.ok());
  EXPECT_EQ(status.error().code.value(), ENOENT);
  EXPECT_EQ(status.error().context, "nft delete drop fd00::1");
}

TEST(FakeNatTable, DropWithoutTableFailsWithEnoent) {
  FakeNatTable table;
  auto status = table.apply(dropping({kVip}));
  ASSERT_FALSE(status.ok());
  EXPECT_EQ(status.error().code.value(), ENOENT);
  EXPECT_FALSE(table.table_present());
}

TEST(FakeNatTable, RecreateWithDropAddStartsFromExactlyThoseAndIgnoresDropRemovals) {
  FakeNatTable table;
  ASSERT_TRUE(table.apply(recreate_with({kWeb})).ok());
  ASSERT_TRUE(table.apply(dropping({kVip6})).ok());
  table.clear_ops();
  NatBatch batch = recreate_with({kDns});
  batch.drop_add = {kVip};
  batch.drop_remove = {nft_test::ip("9.9.9.9")};  // would be ENOENT if it were applied
  ASSERT_TRUE(table.apply(batch).ok());
  auto observed = table.read();
  ASSERT_TRUE(observed.ok());
  EXPECT_EQ(observed->snat, std::set<model::SnatRule>{kDns});
  EXPECT_EQ(observed->dropped_vips, std::set<model::IpAddress>{kVip});
  EXPECT_EQ(table.ops(), (std::vector<std::string>{"RECREATE table inet kvlb",
                                                   "ADD snat 20.20.20.1:53/udp -> 20.20.20.1",
                                                   "ADD drop 20.20.20.1"}));
}

TEST(FakeNatTable, FailedSnatElementRollsBackDropElementsOfTheSameBatch) {
  FakeNatTable table;
  ASSERT_TRUE(table.apply(recreate_with({kWeb})).ok());
  ASSERT_TRUE(table.apply(dropping({kVip6})).ok());
  NatBatch batch = dropping({kVip}, {kVip6});
  batch.add = {kWeb};  // exists: EEXIST
  auto status = table.apply(batch);
  ASSERT_FALSE(status.ok());
  EXPECT_EQ(status.error().code.value(), EEXIST);
  EXPECT_EQ(table.dropped_vips(), std::set<model::IpAddress>{kVip6});

  NatBatch other = dropping({kVip6});  // exists: EEXIST
  other.add = {kDns};
  ASSERT_FALSE(table.apply(other).ok());
  EXPECT_EQ(table.snat(), std::set<model::SnatRule>{kWeb});
}

TEST(FakeNatTable, DropElementsAreLostWithTheTableAndHiddenWhileItIsDamaged) {
  FakeNatTable table;
  ASSERT_TRUE(table.apply(recreate_with({})).ok());
  ASSERT_TRUE(table.apply(dropping({kVip})).ok());
  table.damage_layout();
  EXPECT_TRUE(table.read()->dropped_vips.empty());  // not intact: nothing is reported
  EXPECT_EQ(table.dropped_vips(), std::set<model::IpAddress>{kVip});
  table.delete_table();
  EXPECT_TRUE(table.dropped_vips().empty());
}

TEST(FakeNatTable, DriftDropElementsChangedByOthers) {
  FakeNatTable table;
  table.put_drop(kVip);  // no table: nothing happens
  EXPECT_TRUE(table.dropped_vips().empty());
  ASSERT_TRUE(table.apply(recreate_with({})).ok());
  table.put_drop(kVip);
  table.put_drop(kVip6);
  table.erase_drop(kVip);
  EXPECT_EQ(table.read()->dropped_vips, std::set<model::IpAddress>{kVip6});
}

}  // namespace
}  // namespace kvlb::fakes
