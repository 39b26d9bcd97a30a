// Requests: the lifecycle, versions on amendment, and the hash-chained audit trail.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "amends/requests.hpp"

namespace {

using amends::Currency;
using amends::Money;
using amends::request_state_error;
namespace r = amends::requests;
using r::Action;
using r::State;

constexpr r::Timestamp kNoon = 1'795'435'200'000'000;  // 2026-11-23T12:00:00Z

r::RequestContent goodwill(const char* amount) {
  r::RequestContent c;
  c.kind = amends::concessions::Kind::goodwill;
  c.customer = {"C1042", "enterprise", Money::parse("120000.00", Currency::of("USD"))};
  c.amount = Money::parse(amount, Currency::of("USD"));
  c.reason_code = "onboarding_delay";
  c.justification = "Onboarding slipped three weeks";
  c.evidence = {"ZD-88121"};
  c.requester = "maria";
  c.team = "cs-emea";
  return c;
}

TEST(RequestLifecycle, TheHappyPathEndsReconciled) {
  r::Request req("R-1", goodwill("50.00"), kNoon);
  const std::vector<std::pair<Action, State>> path = {
      {Action::submit, State::submitted}, {Action::validate, State::validated},
      {Action::route, State::pending_approval}, {Action::approve, State::approved},
      {Action::apply, State::applied}, {Action::reconcile, State::reconciled}};
  r::Timestamp at = kNoon;
  for (auto [action, state] : path) {
    req.act(action, "someone", at += 1'000'000);
    EXPECT_EQ(req.state(), state) << r::to_string(action);
  }
  EXPECT_TRUE(r::is_final(req.state()));
  ASSERT_EQ(req.history().size(), path.size());
  EXPECT_EQ(req.history().front().from, State::draft);
  EXPECT_EQ(req.history().back().to, State::reconciled);
}

TEST(RequestLifecycle, EveryIllegalMoveIsATypedErrorAndChangesNothing) {
  // From each state, exactly these actions are allowed.
  const std::vector<std::pair<State, std::vector<Action>>> allowed = {
      {State::draft, {Action::submit, Action::cancel}},
      {State::submitted, {Action::validate, Action::decline, Action::return_for_information, Action::cancel, Action::expire}},
      {State::validated, {Action::route, Action::decline, Action::return_for_information, Action::cancel, Action::expire}},
      {State::pending_approval,
       {Action::approve, Action::decline, Action::return_for_information, Action::cancel, Action::expire}},
      {State::approved, {Action::apply, Action::cancel, Action::expire}},
      {State::returned, {Action::submit, Action::cancel, Action::expire}},
      {State::applied, {Action::reconcile}},
      {State::declined, {}}, {State::reconciled, {}}, {State::cancelled, {}}, {State::expired, {}}};
  const std::vector<Action> every = {Action::submit, Action::validate, Action::route, Action::approve,
                                     Action::decline, Action::return_for_information, Action::apply,
                                     Action::reconcile, Action::cancel, Action::expire, Action::amend};
  for (const auto& [from, ok] : allowed) {
    for (Action a : every) {
      const bool expected = std::find(ok.begin(), ok.end(), a) != ok.end();
      if (expected) {
        EXPECT_NO_THROW(r::next_state(from, a)) << r::to_string(from) << " " << r::to_string(a);
      } else {
        EXPECT_THROW(r::next_state(from, a), request_state_error) << r::to_string(from) << " " << r::to_string(a);
      }
    }
  }
  r::Request req("R-2", goodwill("50.00"), kNoon);
  req.act(Action::submit, "maria", kNoon);
  try {
    req.act(Action::apply, "billing", kNoon);
    FAIL() << "applying a submitted request";
  } catch (const request_state_error& e) {
    EXPECT_STREQ(e.what(), "a submitted request can't apply; it can validate, decline, return, cancel, expire");
  }
  EXPECT_EQ(req.state(), State::submitted);
  EXPECT_EQ(req.history().size(), 1U);
}

TEST(RequestLifecycle, AReturnedRequestIsAmendedAndResubmittedKeepingEveryVersion) {
  r::Request req("R-3", goodwill("500.00"), kNoon);
  req.act(Action::submit, "maria", kNoon + 1);
  req.act(Action::return_for_information, "lead", kNoon + 2, "which incident?");
  EXPECT_THROW(req.amend(goodwill("400.00"), "lead", kNoon + 3), amends::invalid_argument);  // not the requester
  req.amend(goodwill("400.00"), "maria", kNoon + 3);
  req.act(Action::submit, "maria", kNoon + 4);

  ASSERT_EQ(req.version(), 2);
  EXPECT_EQ(req.versions()[0].amount->to_string(), "500.00 USD");
  EXPECT_EQ(req.content().amount->to_string(), "400.00 USD");
  EXPECT_EQ(req.history()[2].action, Action::amend);
  EXPECT_EQ(req.history()[2].comment, "amended to version 2");
  EXPECT_THROW(req.amend(goodwill("300.00"), "maria", kNoon + 5), request_state_error);  // submitted again
  EXPECT_THROW(req.act(Action::validate, "ops", kNoon), amends::invalid_argument);      // time went backwards
}

TEST(Sha256, KnownVectors) {
  EXPECT_EQ(r::to_hex(r::sha256("")), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(r::to_hex(r::sha256("abc")), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_EQ(r::to_hex(r::sha256("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq")),
            "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
  EXPECT_EQ(r::to_hex(r::sha256(std::string(1'000'000, 'a'))),
            "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
}

TEST(AuditTrail, TheChainVerifiesAndAnyTamperingIsFound) {
  r::AuditTrail trail;
  trail.append(kNoon, "maria", "R-1", "submitted", "50.00 USD goodwill");
  trail.append(kNoon + 5, "engine", "R-1", "routed", "rule goodwill-small: auto-approve");
  trail.append(kNoon + 9, "engine", "R-1", "approved", "");
  EXPECT_TRUE(r::AuditTrail::verify(trail.events()).ok);
  EXPECT_EQ(trail.events()[1].previous, trail.events()[0].hash);
  EXPECT_THROW(trail.append(kNoon, "x", "R-1", "late"), amends::invalid_argument);

  auto changed = trail.events();
  changed[1].details = "rule goodwill-small: auto-approve (edited)";
  auto v = r::AuditTrail::verify(changed);
  EXPECT_FALSE(v.ok);
  EXPECT_EQ(v.first_bad, 2U);

  auto rehashed = changed;  // recomputing the edited event's hash breaks the next link instead
  rehashed[1].hash = r::sha256(r::canonical(rehashed[1]));
  EXPECT_EQ(r::AuditTrail::verify(rehashed).first_bad, 3U);

  auto removed = trail.events();
  removed.erase(removed.begin() + 1);
  EXPECT_EQ(r::AuditTrail::verify(removed).first_bad, 3U);
  EXPECT_NE(r::AuditTrail::verify(removed).problem.find("missing or out of order"), std::string::npos);
}

TEST(Timestamps, FormatAsUtcWithMicroseconds) {
  EXPECT_EQ(r::format_timestamp(kNoon + 123456), "2026-11-23T12:00:00.123456Z");
}

}  // namespace
