#include "amends/approvals.hpp"

#include <algorithm>

namespace amends::approvals {

namespace {

constexpr requests::Timestamp kHour = 3'600'000'000;

// The key of a name the policy lists for `role`: a policy naming nobody is the
// policy's error, not the approver's.
std::string member_key(const std::string& name, const std::string& role) {
  try {
    return names::normalise(name);
  } catch (const invalid_name& e) {
    throw policy::policy_error("the policy's role " + role + " lists a name that is not one: " + e.what() +
                               "; correct the policy");
  }
}

bool lists(const std::vector<std::string>& people, const std::string& person_key, const std::string& role) {
  return std::any_of(people.begin(), people.end(),
                     [&](const std::string& name) { return member_key(name, role) == person_key; });
}

}  // namespace

ApprovalChain::ApprovalChain(const policy::Policy& policy, const policy::Route& route, std::string requester,
                             requests::Timestamp started_at)
    : policy_(&policy), requester_(std::move(requester)), requester_key_(names::normalise(requester_)) {
  if (route.outcome != policy::Outcome::needs_approval)
    throw approval_error("only a request routed to people has an approval chain; this one is " +
                         std::string(policy::to_string(route.outcome)));
  for (const policy::Step& step : route.steps) steps_.push_back(StepState{step, 0, {}, false, false});
  if (!steps_.empty()) steps_.front().started_at = started_at;
}

ApprovalChain::ApprovalChain(const policy::Policy& policy, std::string requester, std::vector<StepState> steps,
                             std::size_t current)
    : policy_(&policy),
      requester_(std::move(requester)),
      requester_key_(names::normalise(requester_)),
      steps_(std::move(steps)),
      current_(current) {
  if (current_ > steps_.size()) throw invalid_argument("a stored approval chain is past its last step");
}

void ApprovalChain::add_step(policy::Step step, requests::Timestamp at) {
  for (const std::string& role : step.roles)
    if (!policy_->role(role)) throw approval_error("the policy has no role " + role);
  const bool was_complete = complete();
  steps_.push_back(StepState{std::move(step), was_complete ? at : 0, {}, false, false});
}

bool ApprovalChain::is_requester(const std::string& person) const { return names::normalise(person) == requester_key_; }

bool ApprovalChain::holds(const std::string& person_key, const std::string& role, Date on, bool& as_delegate) const {
  if (!lists(policy_->people_for(role, on), person_key, role)) return false;
  const policy::Role* r = policy_->role(role);
  as_delegate = !r || !lists(r->people, person_key, role);
  return true;
}

bool ApprovalChain::approved_before(const std::string& person_key) const {
  for (const StepState& s : steps_)
    for (const Approval& a : s.approvals)
      if (names::normalise(a.person) == person_key) return true;
  return false;
}

std::vector<std::string> ApprovalChain::open_roles() const {
  std::vector<std::string> roles;
  if (complete()) return roles;
  const StepState& s = steps_[current_];
  for (const std::string& role : s.step.roles) {
    const bool filled = std::any_of(s.approvals.begin(), s.approvals.end(), [&](const Approval& a) { return a.role == role; });
    if (!filled) roles.push_back(role);
  }
  if (s.escalated && !s.step.escalate_to.empty()) roles.push_back(s.step.escalate_to);
  return roles;
}

bool ApprovalChain::approve(const std::string& person, Date on, requests::Timestamp at, std::string comment) {
  if (complete()) throw approval_error("the approval chain is complete; there is nothing left to approve");
  const std::string person_key = names::normalise(person);
  if (person_key == requester_key_) throw approval_error(person + " requested this; nobody approves their own request");
  if (approved_before(person_key))
    throw approval_error(person + " has approved in this chain already; another person has to approve this step");
  StepState& s = steps_[current_];
  for (const std::string& role : open_roles()) {
    bool as_delegate = false;
    if (!holds(person_key, role, on, as_delegate)) continue;
    s.approvals.push_back(Approval{person, role, at, std::move(comment), as_delegate});
    if (!s.step.all_of) {
      s.done = true;  // any one of the roles
    } else if (s.escalated && role == s.step.escalate_to) {
      s.done = true;  // escalated: the higher authority decides for the step
    } else {
      s.done = std::all_of(s.step.roles.begin(), s.step.roles.end(), [&](const std::string& r) {
        return std::any_of(s.approvals.begin(), s.approvals.end(), [&](const Approval& a) { return a.role == r; });
      });
    }
    if (s.done) {
      ++current_;
      if (!complete()) steps_[current_].started_at = at;
    }
    return complete();
  }
  std::string roles;
  for (const std::string& r : open_roles()) roles += (roles.empty() ? "" : ", ") + r;
  throw approval_error(person + " holds none of the roles this step still needs (" + roles + ") on " + on.to_string());
}

std::vector<std::string> ApprovalChain::waiting_for(Date on) const {
  std::vector<std::string> out;
  std::vector<std::string> out_keys;
  for (const std::string& role : open_roles())
    for (const std::string& person : policy_->people_for(role, on)) {
      std::string key = member_key(person, role);
      if (key == requester_key_ || approved_before(key) || std::find(out_keys.begin(), out_keys.end(), key) != out_keys.end())
        continue;
      out.push_back(person);
      out_keys.push_back(std::move(key));
    }
  return out;
}

bool ApprovalChain::waits_for(const std::string& person, Date on) const {
  const std::string person_key = names::normalise(person);
  const std::vector<std::string> waiting = waiting_for(on);
  return std::any_of(waiting.begin(), waiting.end(), [&](const std::string& name) {
    return names::normalise(name) == person_key;
  });
}

std::vector<Escalation> ApprovalChain::escalate_due(requests::Timestamp now) {
  std::vector<Escalation> out;
  if (complete()) return out;
  StepState& s = steps_[current_];
  if (s.escalated || !s.step.escalate_after_hours) return out;
  if (now - s.started_at < *s.step.escalate_after_hours * kHour) return out;
  s.escalated = true;
  out.push_back(Escalation{current_, s.step.escalate_to, now});
  return out;
}

}  // namespace amends::approvals
