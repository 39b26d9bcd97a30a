// The approval chain of one routed request: its steps in order, who may act
// on each, separation of duties, and escalation on a clock the caller
// supplies (so scheduled jobs and tests control time).
//
// Separation of duties: nobody approves their own request; nobody approves
// twice in one chain -- a person who holds the roles of two steps (or two
// roles of one all_of step) approves once, and the other still needs
// someone else.
//
// People are compared by name key (amends/names.hpp), never as typed: the
// requester "lena" cannot approve as " Lena" or "lena\u200b", an approver
// cannot approve again as "LENA", and "Omar" holds the roles of the policy's
// "omar". Names are kept as given (in approvals, in waiting_for, in
// messages). A name that is not one (not UTF-8, a control character in it,
// blank) is refused with invalid_name and changes nothing; a policy role
// listing such a name is a policy_error.
#pragma once

#include <string>
#include <vector>

#include "amends/calendar.hpp"
#include "amends/names.hpp"
#include "amends/policy.hpp"
#include "amends/requests.hpp"

namespace amends::approvals {

// An approval the chain refuses: not the person's to give, or against
// separation of duties. Nothing changes.
class approval_error : public error { using error::error; };

struct Approval {
  std::string person;
  std::string role;  // the role they approved as
  requests::Timestamp at;
  std::string comment;
  bool as_delegate = false;
};

struct StepState {
  policy::Step step;
  requests::Timestamp started_at = 0;  // when it became the current step
  std::vector<Approval> approvals;
  bool escalated = false;
  bool done = false;
};

struct Escalation {
  std::size_t step;  // index
  std::string to_role;
  requests::Timestamp at;
};

class ApprovalChain {
 public:
  ApprovalChain(const policy::Policy& policy, const policy::Route& route, std::string requester,
                requests::Timestamp started_at);

  // A chain as stored (for loading it back).
  ApprovalChain(const policy::Policy& policy, std::string requester, std::vector<StepState> steps, std::size_t current);

  // Adds a step at the end (an over-budget approval the policy asks for).
  void add_step(policy::Step step, requests::Timestamp at);
  const std::string& requester() const { return requester_; }
  // Whether `person` is the requester, under any spelling of the name.
  bool is_requester(const std::string& person) const;
  const policy::Policy& policy() const { return *policy_; }

  // `person` approves the current step, as the first of its roles they hold
  // (or hold by delegation, or by escalation) that still needs someone.
  // Returns true when that completes the chain.
  bool approve(const std::string& person, Date on, requests::Timestamp at, std::string comment = {});

  bool complete() const { return current_ == steps_.size(); }
  std::size_t current_step() const { return current_; }
  const std::vector<StepState>& steps() const { return steps_; }
  // Who may approve the current step now (separation of duties applied).
  std::vector<std::string> waiting_for(Date on) const;
  // Whether `person`, under any spelling of the name, is among waiting_for(on).
  bool waits_for(const std::string& person, Date on) const;
  // Escalates every current step that has waited past its escalate_after_hours.
  std::vector<Escalation> escalate_due(requests::Timestamp now);

 private:
  // The roles of the current step still without an approval, in order.
  std::vector<std::string> open_roles() const;
  // These take name keys (names::normalise), not names as typed.
  bool holds(const std::string& person_key, const std::string& role, Date on, bool& as_delegate) const;
  bool approved_before(const std::string& person_key) const;

  const policy::Policy* policy_;
  std::string requester_;
  std::string requester_key_;
  std::vector<StepState> steps_;
  std::size_t current_ = 0;
};

}  // namespace amends::approvals
