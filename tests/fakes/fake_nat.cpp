#include "fakes/fake_nat.h"

#include <cerrno>

namespace kvlb::fakes {
namespace {

// Same wording as the netlink implementation, so tests and logs read alike.
std::string add_context(const model::SnatRule& rule) { return "nft add snat " + rule.str(); }
std::string delete_context(const model::SnatRule& rule) { return "nft delete snat " + rule.str(); }
std::string add_context(const model::IpAddress& vip) { return "nft add drop " + vip.str(); }
std::string delete_context(const model::IpAddress& vip) { return "nft delete drop " + vip.str(); }

}  // namespace

Result<kernel::NatObserved> FakeNatTable::read() {
  if (next_read_error_) {
    Error error = std::move(*next_read_error_);
    next_read_error_.reset();
    return error;
  }
  if (!intact()) return kernel::NatObserved{};
  return kernel::NatObserved{true, snat(), dropped_vips()};
}

Status FakeNatTable::apply(const kernel::NatBatch& batch) {
  if (batch.empty()) return ok_status();
  if (next_apply_error_) {
    Error error = std::move(*next_apply_error_);
    next_apply_error_.reset();
    ++failed_applies_;
    return error;
  }
  for (const auto* list : {&batch.add, &batch.remove}) {
    if (batch.recreate_table && list == &batch.remove) continue;  // ignored when recreating, as in netlink
    for (const auto& rule : *list)
      if (rule.match.vip.family() != rule.to.family())
        return Error::invalid("nft snat " + rule.str() + ": VIP and SNAT address families differ");
  }

  // Work on a copy; commit only if every message succeeds. Like the kernel,
  // keep going after a failure so the error count matches.
  std::optional<Elements> next = batch.recreate_table ? std::optional<Elements>(Elements{}) : table_;
  std::vector<std::string> staged_ops;
  if (batch.recreate_table) staged_ops.push_back("RECREATE table inet kvlb");
  std::vector<Error> errors;
  auto fail = [&](int err, std::string context) { errors.push_back(Error::from_errno(err, std::move(context))); };

  // Same message order as the netlink batch: deletions, then additions.
  if (!batch.recreate_table) {
    for (const auto& rule : batch.remove) {
      if (!next || !next->snat.erase(rule.match)) fail(ENOENT, delete_context(rule));  // kernel deletes by key
      else staged_ops.push_back("DEL snat " + rule.str());
    }
    for (const auto& vip : batch.drop_remove) {
      if (!next || !next->drop.erase(vip)) fail(ENOENT, delete_context(vip));
      else staged_ops.push_back("DEL drop " + vip.str());
    }
  }
  for (const auto& rule : batch.add) {
    if (!next) fail(ENOENT, add_context(rule));
    else if (!next->snat.emplace(rule.match, rule.to).second) fail(EEXIST, add_context(rule));
    else staged_ops.push_back("ADD snat " + rule.str());
  }
  // kvlb adds with NLM_F_EXCL, so an existing address is EEXIST, not a no-op.
  for (const auto& vip : batch.drop_add) {
    if (!next) fail(ENOENT, add_context(vip));
    else if (!next->drop.insert(vip).second) fail(EEXIST, add_context(vip));
    else staged_ops.push_back("ADD drop " + vip.str());
  }

  if (!errors.empty()) {
    ++failed_applies_;
    Error first = errors.front();
    if (errors.size() > 1) first.context += " [and " + std::to_string(errors.size() - 1) + " more failed]";
    return first;
  }
  table_ = std::move(next);
  if (batch.recreate_table) layout_damaged_ = false;
  ops_.insert(ops_.end(), staged_ops.begin(), staged_ops.end());
  ++writes_;
  return ok_status();
}

std::set<model::SnatRule> FakeNatTable::snat() const {
  std::set<model::SnatRule> out;
  if (table_)
    for (const auto& [key, to] : table_->snat) out.insert({key, to});
  return out;
}

std::set<model::IpAddress> FakeNatTable::dropped_vips() const {
  return table_ ? table_->drop : std::set<model::IpAddress>{};
}

void FakeNatTable::delete_table() {
  table_.reset();
  layout_damaged_ = false;
}

void FakeNatTable::damage_layout() {
  if (table_) layout_damaged_ = true;
}

void FakeNatTable::put_element(const model::SnatRule& rule) {
  if (table_) table_->snat[rule.match] = rule.to;
}

void FakeNatTable::erase_element(const model::VsKey& key) {
  if (table_) table_->snat.erase(key);
}

void FakeNatTable::put_drop(const model::IpAddress& vip) {
  if (table_) table_->drop.insert(vip);
}

void FakeNatTable::erase_drop(const model::IpAddress& vip) {
  if (table_) table_->drop.erase(vip);
}

}  // namespace kvlb::fakes
