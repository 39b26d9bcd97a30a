// The desk's tables: loading them into a Desk, writing what a write changed.
#include "amends/desk_store.hpp"

#include <algorithm>
#include <cstring>
#include <unordered_map>

#include <openssl/evp.h>
#include <postgresql/libpq-fe.h>

#include <nlohmann/json.hpp>

#include "amends/names.hpp"
#include "session.hpp"
#include "text.hpp"

namespace amends::store {

namespace {

using nlohmann::json;
using requests::Action;
using requests::State;
using requests::Timestamp;

// ---------------------------------------------------------------- JSON of the parts

json money(const std::optional<Money>& m) {
  if (!m) return nullptr;
  return json{{"amount", m->amount().to_string(m->currency().minor_units())}, {"currency", std::string(m->currency().code())}};
}

std::optional<Money> money_of(const json& j) {
  if (j.is_null()) return std::nullopt;
  return Money(Decimal::parse(j.at("amount").get<std::string>()), Currency::of(j.at("currency").get<std::string>()));
}

json decimal(const std::optional<Decimal>& d) {
  if (!d) return nullptr;
  return d->to_string();
}

std::optional<Decimal> decimal_of(const json& j) {
  if (j.is_null()) return std::nullopt;
  return Decimal::parse(j.get<std::string>());
}

json period(const std::optional<Period>& p) {
  if (!p) return nullptr;
  return p->to_string();
}

std::optional<Period> period_of(const json& j) {
  if (j.is_null()) return std::nullopt;
  return Period::parse(j.get<std::string>());
}

Action action_of(const std::string& name) {
  for (int i = 0; i <= static_cast<int>(Action::amend); ++i)
    if (requests::to_string(static_cast<Action>(i)) == name) return static_cast<Action>(i);
  throw store_error("a stored request names an unknown action " + name);
}

json content(const requests::RequestContent& c) {
  return json{{"kind", std::string(concessions::to_string(c.kind))},
              {"customer", {{"id", c.customer.id}, {"tier", c.customer.tier}, {"value", money(c.customer.value)}}},
              {"amount", money(c.amount)},
              {"currency", std::string(c.currency.code())},
              {"reason_code", c.reason_code},
              {"justification", c.justification},
              {"evidence", c.evidence},
              {"requester", c.requester},
              {"team", c.team},
              {"service_period", period(c.service_period)},
              {"claim",
               {{"period_fee", money(c.claim.period_fee)},
                {"measured_availability", decimal(c.claim.measured_availability)},
                {"original_transaction", c.claim.original_transaction},
                {"discount", decimal(c.claim.discount)},
                {"monthly_fee", money(c.claim.monthly_fee)},
                {"months", c.claim.months},
                {"changes_contract", c.claim.changes_contract},
                {"override_reason", c.claim.override_reason}}}};
}

requests::RequestContent content_of(const json& j) {
  requests::RequestContent c;
  c.kind = concessions::parse_kind(j.at("kind").get<std::string>());
  c.customer.id = j.at("customer").at("id").get<std::string>();
  c.customer.tier = j.at("customer").at("tier").get<std::string>();
  c.customer.value = money_of(j.at("customer").at("value"));
  c.amount = money_of(j.at("amount"));
  c.currency = Currency::of(j.at("currency").get<std::string>());
  c.reason_code = j.at("reason_code").get<std::string>();
  c.justification = j.at("justification").get<std::string>();
  c.evidence = j.at("evidence").get<std::vector<std::string>>();
  c.requester = j.at("requester").get<std::string>();
  c.team = j.at("team").get<std::string>();
  c.service_period = period_of(j.at("service_period"));
  const json& cl = j.at("claim");
  c.claim.period_fee = money_of(cl.at("period_fee"));
  c.claim.measured_availability = decimal_of(cl.at("measured_availability"));
  c.claim.original_transaction = cl.at("original_transaction").get<std::string>();
  c.claim.discount = decimal_of(cl.at("discount"));
  c.claim.monthly_fee = money_of(cl.at("monthly_fee"));
  c.claim.months = cl.at("months").get<int>();
  c.claim.changes_contract = cl.at("changes_contract").get<bool>();
  c.claim.override_reason = cl.at("override_reason").get<std::string>();
  return c;
}

json step(const policy::Step& s) {
  return json{{"all_of", s.all_of},
              {"roles", s.roles},
              {"escalate_after_hours", s.escalate_after_hours ? json(*s.escalate_after_hours) : json(nullptr)},
              {"escalate_to", s.escalate_to}};
}

policy::Step step_of(const json& j) {
  policy::Step s;
  s.all_of = j.at("all_of").get<bool>();
  s.roles = j.at("roles").get<std::vector<std::string>>();
  if (!j.at("escalate_after_hours").is_null()) s.escalate_after_hours = j.at("escalate_after_hours").get<int>();
  s.escalate_to = j.at("escalate_to").get<std::string>();
  return s;
}

// A policy's authority as the database judges it (sql/010_authority.sql):
// its rules, roles and delegations with every name normalised, and the
// roles that may be added as single steps (exceptions, budget overruns).
json authority(const policy::Policy& p) {
  json rules = json::array();
  for (const policy::Rule& r : p.rules) {
    json kinds = json::array();
    for (auto k : r.kinds) kinds.push_back(std::string(concessions::to_string(k)));
    json steps = json::array();
    for (const policy::Step& st : r.steps) steps.push_back(step(st));
    rules.push_back(json{{"name", r.name},
                         {"kinds", kinds},
                         {"over", r.over ? json(r.over->to_string()) : json(nullptr)},
                         {"up_to", r.up_to ? json(r.up_to->to_string()) : json(nullptr)},
                         {"tiers", r.tiers},
                         {"auto_approve", r.auto_approve},
                         {"steps", steps}});
  }
  json roles = json::object();
  for (const policy::Role& r : p.roles) {
    json people = json::array();
    for (const std::string& person : r.people) people.push_back(names::normalise(person));
    roles[r.name] = people;
  }
  json delegations = json::array();
  for (const policy::Delegation& d : p.delegations)
    delegations.push_back(json{{"from", names::normalise(d.from)},
                               {"to", names::normalise(d.to)},
                               {"start", d.start.to_string()},
                               {"end", d.end.to_string()}});
  std::vector<std::string> single;
  auto add = [&](const std::string& role) {
    if (!role.empty() && std::find(single.begin(), single.end(), role) == single.end()) single.push_back(role);
  };
  add(p.exception_role);
  for (const auto& [code, role] : p.exception_roles) add(role);
  add(p.terms.budget_escalate_to);
  // The accounts applying each kind debits and credits (concessions::postings_for),
  // "{customer}" standing for the request's customer.
  json accounts = json::object();
  for (auto kind : {concessions::Kind::goodwill, concessions::Kind::service_credit, concessions::Kind::refund,
                    concessions::Kind::retention_offer}) {
    const auto lines = concessions::postings_for(concessions::applied_event(kind), "{customer}",
                                                 Money(Decimal::parse("1"), p.base_currency), p.terms.accounting);
    accounts[std::string(concessions::to_string(kind))] = json::array({lines.at(0).account, lines.at(1).account});
  }
  return json{{"version", p.version}, {"rules", rules},           {"roles", roles},
              {"delegations", delegations}, {"exception_roles", single}, {"accounts", accounts}};
}

concessions::Severity severity_of(const std::string& name) {
  for (auto s : {concessions::Severity::note, concessions::Severity::exception, concessions::Severity::refusal})
    if (concessions::to_string(s) == name) return s;
  throw store_error("a stored finding has an unknown severity " + name);
}

}  // namespace

std::string record_to_json(const desk::RequestRecord& r, const desk::Desk& d) {
  json versions = json::array();
  for (const auto& v : r.request.versions()) versions.push_back(content(v));
  json history = json::array();
  for (const auto& t : r.request.history())
    history.push_back(json{{"at", t.at},
                           {"actor", t.actor},
                           {"action", std::string(requests::to_string(t.action))},
                           {"from", std::string(requests::to_string(t.from))},
                           {"to", std::string(requests::to_string(t.to))},
                           {"comment", t.comment}});
  json findings = json::array();
  for (const auto& f : r.assessment.findings)
    findings.push_back(json{{"code", f.code},
                            {"severity", std::string(concessions::to_string(f.severity))},
                            {"overridable", f.overridable},
                            {"message", f.message}});
  json chain = nullptr;
  if (r.chain) {
    json states = json::array();
    for (const auto& s : r.chain->steps()) {
      json approvals = json::array();
      for (const auto& a : s.approvals)
        approvals.push_back(json{{"person", a.person}, {"role", a.role}, {"at", a.at}, {"comment", a.comment}, {"as_delegate", a.as_delegate}});
      states.push_back(json{{"step", step(s.step)}, {"started_at", s.started_at}, {"escalated", s.escalated}, {"done", s.done}, {"approvals", approvals}});
    }
    chain = json{{"requester", r.chain->requester()}, {"current", r.chain->current_step()}, {"steps", states}};
  }
  json entries = json::array();
  for (EntryId e : r.entries) entries.push_back(e.value);
  json route_steps = json::array();
  for (const auto& st : r.route.steps) route_steps.push_back(step(st));
  json j{{"id", r.id()},
         {"state", std::string(requests::to_string(r.state()))},
         {"created_at", r.request.created_at()},
         {"versions", versions},
         {"history", history},
         {"policy_version", r.policy_version},
         {"assessment", {{"amount", money(r.assessment.amount)}, {"findings", findings}}},
         {"amount", money(r.amount)},
         {"base_amount", r.base_amount.to_string()},
         {"conversion", r.conversion},
         // The route as it was decided: loading a book replays what was
         // decided, it does not decide again (Desk::check_records compares).
         {"route",
          {{"policy_version", r.route.policy_version},
           {"outcome", std::string(policy::to_string(r.route.outcome))},
           {"rule", r.route.rule},
           {"reason", r.route.reason},
           {"steps", route_steps},
           {"explanation", r.route.explanation},
           {"exceptions", r.routed_exceptions}}},
         {"chain", chain},
         {"budget_owner", r.budget_owner},
         {"budget_period", period(r.budget_period)},
         {"budget_escalated", r.budget_escalated},
         {"reservation", r.reservation.value},
         // Whether its kind draws on a budget under its policy: the database
         // then wants a reservation before it is approved (007_money_checks).
         {"draws_on_budget", !r.policy_version.empty() && d.policy(r.policy_version).terms.draws_on_budget(r.request.content().kind)},
         {"entries", entries},
         {"posting_period", period(r.posting_period)},
         {"out_of_period", r.out_of_period},
         {"accrued", r.accrued},
         {"alternatives", r.alternatives},
         {"blocked", r.blocked},
         {"incomplete", r.incomplete}};
  return j.dump();
}

desk::RequestRecord record_from_json(const std::string& text, const desk::Desk& d) {
  try {
    const json j = json::parse(text);
    std::vector<requests::RequestContent> versions;
    for (const json& v : j.at("versions")) versions.push_back(content_of(v));
    std::vector<requests::Transition> history;
    for (const json& t : j.at("history"))
      history.push_back(requests::Transition{t.at("at").get<std::int64_t>(), t.at("actor").get<std::string>(),
                                             action_of(t.at("action").get<std::string>()),
                                             requests::parse_state(t.at("from").get<std::string>()),
                                             requests::parse_state(t.at("to").get<std::string>()),
                                             t.at("comment").get<std::string>()});
    desk::RequestRecord r(requests::Request::restore(j.at("id").get<std::string>(),
                                                     requests::parse_state(j.at("state").get<std::string>()),
                                                     std::move(versions), std::move(history),
                                                     j.at("created_at").get<std::int64_t>()));
    r.policy_version = j.at("policy_version").get<std::string>();
    r.assessment.amount = *money_of(j.at("assessment").at("amount"));
    for (const json& f : j.at("assessment").at("findings"))
      r.assessment.findings.push_back(concessions::Finding{f.at("code").get<std::string>(),
                                                           severity_of(f.at("severity").get<std::string>()),
                                                           f.at("overridable").get<bool>(), f.at("message").get<std::string>()});
    r.amount = money_of(j.at("amount"));
    r.base_amount = Decimal::parse(j.at("base_amount").get<std::string>());
    r.conversion = j.at("conversion").get<std::string>();
    const json& route = j.at("route");
    r.route.outcome = policy::Outcome::blocked;
    for (auto o : {policy::Outcome::auto_approved, policy::Outcome::needs_approval, policy::Outcome::blocked})
      if (policy::to_string(o) == route.at("outcome").get<std::string>()) r.route.outcome = o;
    r.route.rule = route.at("rule").get<std::string>();
    r.route.reason = route.at("reason").get<std::string>();
    if (route.contains("steps")) {
      r.route.policy_version = route.at("policy_version").get<std::string>();
      for (const json& st : route.at("steps")) r.route.steps.push_back(step_of(st));
      r.route.explanation = route.at("explanation").get<std::vector<std::string>>();
      r.routed_exceptions = route.at("exceptions").get<std::vector<std::string>>();
    } else if (!r.policy_version.empty() && !r.route.rule.empty()) {
      // Written before routes were stored: the explanation is the policy's
      // again; a route that no longer agrees is reported by check_records.
      for (const auto& f : r.assessment.findings)
        if (f.severity == concessions::Severity::exception) r.routed_exceptions.push_back(f.code);
      const auto& c = r.request.content();
      const policy::Route again =
          policy::route(d.policy(r.policy_version), policy::RouteInput{c.kind, r.base_amount, c.customer.tier,
                                                                       !r.routed_exceptions.empty(), r.routed_exceptions});
      r.route.policy_version = r.policy_version;
      r.route.steps = again.steps;
      r.route.explanation = again.explanation;
    }
    if (!j.at("chain").is_null()) {
      const json& c = j.at("chain");
      std::vector<approvals::StepState> states;
      for (const json& s : c.at("steps")) {
        approvals::StepState st;
        st.step = step_of(s.at("step"));
        st.started_at = s.at("started_at").get<std::int64_t>();
        st.escalated = s.at("escalated").get<bool>();
        st.done = s.at("done").get<bool>();
        for (const json& a : s.at("approvals"))
          st.approvals.push_back(approvals::Approval{a.at("person").get<std::string>(), a.at("role").get<std::string>(),
                                                     a.at("at").get<std::int64_t>(), a.at("comment").get<std::string>(),
                                                     a.at("as_delegate").get<bool>()});
        states.push_back(std::move(st));
      }
      r.chain.emplace(d.policy(r.policy_version), c.at("requester").get<std::string>(), std::move(states),
                      c.at("current").get<std::size_t>());
    }
    r.budget_owner = j.at("budget_owner").get<std::string>();
    r.budget_period = period_of(j.at("budget_period"));
    r.budget_escalated = j.at("budget_escalated").get<bool>();
    r.reservation = EntryId{j.at("reservation").get<std::uint64_t>()};
    for (const json& e : j.at("entries")) r.entries.push_back(EntryId{e.get<std::uint64_t>()});
    r.posting_period = period_of(j.at("posting_period"));
    r.out_of_period = j.at("out_of_period").get<bool>();
    r.accrued = j.at("accrued").get<bool>();
    r.alternatives = j.at("alternatives").get<std::vector<std::string>>();
    r.blocked = j.at("blocked").get<std::string>();
    if (j.contains("incomplete")) r.incomplete = j.at("incomplete").get<std::string>();
    return r;
  } catch (const json::exception& e) {
    throw store_error(std::string("a stored request record does not read back: ") + e.what());
  } catch (const store_error&) {
    throw;
  } catch (const error& e) {
    throw store_error(std::string("a stored request record does not read back: ") + e.what());
  }
}

// ---------------------------------------------------------------- DeskStore

DeskStore::DeskStore(Book& book, desk::Desk& desk) : book_(&book), desk_(&desk) {
  if (&desk.book() != &book.mirror()) throw invalid_argument("a desk is stored with the book whose mirror it keeps");
  book.add_participant(*this);
}

DeskStore::~DeskStore() { book_->remove_participant(*this); }

void DeskStore::reset() {
  desk_->clear();
  version_ = 0;
  charges_loaded_ = 0;
}

namespace {

requests::Timestamp micros_of(const pqxx::field& f) { return f.as<std::int64_t>(); }

requests::Hash hash_of(const pqxx::field& f) {
  const pqxx::binarystring bytes(f);
  requests::Hash h{};
  if (bytes.size() != h.size()) throw store_error("an audit hash in the database is not 32 bytes");
  std::copy(bytes.begin(), bytes.end(), h.begin());
  return h;
}

requests::AuditEvent audit_event_of(const pqxx::row& row) {
  requests::AuditEvent e;
  e.sequence = row[0].as<std::uint64_t>();
  e.at = micros_of(row[1]);
  e.actor = row[2].c_str();
  e.request = row[3].c_str();
  e.event = row[4].c_str();
  e.details = row[5].c_str();
  e.previous = hash_of(row[6]);
  e.hash = hash_of(row[7]);
  return e;
}

constexpr const char* kAuditColumns = "seq, at_micros, actor, request_id, event, details, previous, hash";

}  // namespace

void DeskStore::catch_up(Session& s, std::int64_t version) {
  pqxx::transaction_base& tx = s.tx();
  const int book = s.book_id();
  if (version <= version_ && version_ != 0) return;
  // Policies, in the order they were published.
  for (const auto& row : tx.exec_params(
           "SELECT body, authority::text, version FROM amends.policies WHERE book_id = $1 ORDER BY published_at, version", book)) {
    const bool known = desk_->policy_texts().count(row[2].c_str()) > 0;  // checked when it was first loaded
    desk_->load_policy(row[0].c_str());
    // What the database judges by is what the text says (a policy published
    // before 010 has no authority; the desk alone judges its requests).
    if (!known && !row[1].is_null() && json::parse(row[1].c_str()) != authority(desk_->policy(row[2].c_str())))
      throw store_error("policy " + std::string(row[2].c_str()) + " of this book: the authority the database judges by (policies.authority) "
                        "is not what its text says; the policy row was altered outside amends");
  }
  if (desk_->rates().size() != tx.exec_params1("SELECT count(*) FROM amends.fx_rates WHERE book_id = $1", book)[0].as<std::size_t>())
    for (const auto& row : tx.exec_params("SELECT currency, day, rate FROM amends.fx_rates WHERE book_id = $1", book))
      desk_->load_rate(desk::FxRate{Currency::of(row[0].c_str()), Date::parse(row[1].c_str()), Decimal::parse(row[2].c_str())});
  if (desk_->charges().size() != tx.exec_params1("SELECT count(*) FROM amends.charges WHERE book_id = $1", book)[0].as<std::size_t>())
    for (const auto& row : tx.exec_params(
             "SELECT charge_id, customer, amount, currency, day, refunded FROM amends.charges WHERE book_id = $1", book)) {
      const Currency c = Currency::of(row[3].c_str());
      desk_->load_charge(desk::Charge{row[0].c_str(), row[1].c_str(), Money(Decimal::parse(row[2].c_str()), c),
                                      Date::parse(row[4].c_str()), Decimal::parse(row[5].c_str())});
    }
  for (const auto& row : tx.exec_params(
           std::string("SELECT ") + kAuditColumns + " FROM amends.audit_events WHERE book_id = $1 AND seq > $2 ORDER BY seq",
           book, static_cast<std::int64_t>(desk_->audit().events().size())))
    try {
      desk_->load_audit(audit_event_of(row));
    } catch (const invalid_argument&) {
      throw store_error("the audit trail of book " + std::to_string(book) + " does not verify at event " +
                        row[0].c_str() + ": it was changed outside amends; `amends audit verify` says how");
    }
  for (const auto& row : tx.exec_params(
           "SELECT message_id, request_id, event, customer, subject, body, "
           "(extract(epoch FROM created_at) * 1000000)::bigint FROM amends.outbox WHERE book_id = $1 AND message_id > $2 "
           "ORDER BY message_id",
           book, static_cast<std::int64_t>(desk_->outbox().size())))
    desk_->load_notification(desk::Notification{row[0].as<std::int64_t>(), row[1].c_str(), row[2].c_str(), row[3].c_str(),
                                                row[4].c_str(), row[5].c_str(), row[6].as<std::int64_t>()});
  for (const auto& row : tx.exec_params(
           "SELECT run_id, source, period_first, period_last, parameters::text, inputs_sha256, summary::text, exceptions, "
           "(extract(epoch FROM created_at) * 1000000)::bigint, created_by FROM amends.reconciliation_runs "
           "WHERE book_id = $1 AND run_id > $2 ORDER BY run_id",
           book, static_cast<std::int64_t>(desk_->runs().size())))
    desk_->load_run(desk::ReconciliationRun{row[0].as<std::int64_t>(), row[1].c_str(), Date::parse(row[2].c_str()),
                                            Date::parse(row[3].c_str()), row[4].c_str(), row[5].c_str(), row[6].c_str(),
                                            row[7].as<std::int64_t>(), row[8].as<std::int64_t>(), row[9].c_str()});
  {
    pqxx::stream_from rows(tx, "(SELECT request_id, record::text FROM amends.requests WHERE book_id = " +
                                   std::to_string(book) + " AND changed_version > " + std::to_string(version_) +
                                   " AND changed_version <= " + std::to_string(version) + ")");
    std::tuple<std::string, std::string> row;
    // One request that does not read back is a finding on that request
    // (`amends audit verify` reports it), never fatal for every other one.
    while (rows >> row) {
      try {
        desk_->load_record(record_from_json(std::get<1>(row), *desk_));
      } catch (const store_error& e) {
        desk_->load_unreadable(std::get<0>(row), e.what());
      }
    }
    rows.complete();
  }
  version_ = version;
}

void DeskStore::begin() {
  mark_ = desk_->mark();
  active_ = true;
  // A real book acts as the login's person, read again at every write.
  desk_->authenticate(book_->info().simulation ? std::nullopt
                                               : std::optional<std::string>(book_->identity().person.value_or("")));
}

bool DeskStore::changed() const {
  if (!active_) return false;
  return !desk_->changed_records().empty() || desk_->audit().events().size() > mark_.audit ||
         desk_->outbox().size() > mark_.outbox || desk_->policy_order().size() > mark_.policies ||
         !desk_->new_rates().empty() || !desk_->new_charges().empty() || desk_->runs().size() > mark_.runs;
}

void DeskStore::failed() {
  if (!active_) return;
  desk_->rollback(mark_);
  active_ = false;
}

void DeskStore::committed() {
  if (!active_) return;
  desk_->commit_mark();
  active_ = false;
}

void DeskStore::write(Session& s, std::int64_t version) {
  pqxx::transaction_base& tx = s.tx();
  const std::string book = std::to_string(s.book_id());
  auto field = [](std::string& out, std::string_view v) { text::append_copy_field(out, v); };
  // Policies, with who published them and when.
  for (std::size_t i = mark_.policies; i < desk_->policy_order().size(); ++i) {
    const std::string& version_name = desk_->policy_order()[i];
    const desk::Desk::Publication* p = desk_->publication(version_name);
    tx.exec_params("INSERT INTO amends.policies (book_id, version, body, published_at, published_by, authority) "
                   "VALUES ($1, $2, $3, 'epoch'::timestamptz + $4::bigint * interval '1 microsecond', $5, $6::jsonb)",
                   s.book_id(), version_name, desk_->policy_texts().at(version_name), std::to_string(p ? p->at : 0),
                   p ? p->by : std::string("amends"), authority(desk_->policy(version_name)).dump());
  }
  // Rates and charges recorded in this write.
  for (const desk::FxRate& r : desk_->new_rates())
    tx.exec_params("INSERT INTO amends.fx_rates (book_id, currency, day, rate) VALUES ($1, $2, $3, $4)", s.book_id(),
                   std::string(r.currency.code()), r.day.to_string(), r.rate.to_string());
  for (const std::string& id : desk_->new_charges()) {
    const desk::Charge& c = desk_->charge(id);
    tx.exec_params("INSERT INTO amends.charges (book_id, charge_id, customer, amount, currency, day, refunded) "
                   "VALUES ($1, $2, $3, $4, $5, $6, $7)",
                   s.book_id(), c.id, c.customer, c.amount.amount().to_string(), std::string(c.amount.currency().code()),
                   c.day.to_string(), c.refunded_in_billing.to_string());
  }
  // Audit events first, appended by COPY (the database checks the chain):
  // a request's anchor must name an event already in the trail. The last
  // event of each request in this write is the one that anchors it.
  const auto& events = desk_->audit().events();
  std::unordered_map<std::string_view, const requests::AuditEvent*> anchors;
  if (events.size() > mark_.audit) {
    const bool simulation = book_->info().simulation;
    const std::int64_t now = book_->write_time();
    std::string rows;
    for (std::size_t i = mark_.audit; i < events.size(); ++i) {
      const requests::AuditEvent& e = events[i];
      if (!simulation && e.at != now)
        throw not_authorised("audit event " + std::to_string(e.sequence) + " (" + e.event + ") is dated " + std::to_string(e.at) +
                             " micros: book " + book_->info().name + " is not a simulation, and its decisions are dated by "
                             "the database's clock (" + std::to_string(now) + "); give no time");
      if (!e.request.empty()) anchors[e.request] = &e;
      rows += book + '\t' + std::to_string(e.sequence) + '\t' + std::to_string(e.at) + '\t';
      field(rows, e.actor);
      rows += '\t';
      field(rows, e.request);
      rows += '\t';
      field(rows, e.event);
      rows += '\t';
      field(rows, e.details);
      rows += "\t\\\\x" + requests::to_hex(e.previous) + "\t\\\\x" + requests::to_hex(e.hash) + (simulation ? "\tt\n" : "\tf\n");
    }
    rows.pop_back();
    CopyIn copy(tx, "amends.audit_events",
                {"book_id", "seq", "at_micros", "actor", "request_id", "event", "details", "previous", "hash", "simulated"});
    copy.write(rows);
    copy.complete();
    // The book's head: the database moves it with the append and refuses
    // any other; written here so the write states it.
    tx.exec_params("INSERT INTO amends.audit_heads (book_id, seq, hash) VALUES ($1, $2, decode($3, 'hex')) "
                   "ON CONFLICT (book_id) DO UPDATE SET seq = excluded.seq, hash = excluded.hash",
                   s.book_id(), static_cast<std::int64_t>(events.back().sequence), requests::to_hex(events.back().hash));
  }
  // Requests: staged by COPY, then inserted or updated in one statement.
  if (!desk_->changed_records().empty()) {
    tx.exec0("CREATE TEMPORARY TABLE IF NOT EXISTS desk_requests_stage (request_id text, kind text, state text, "
             "customer text, requester text, team text, amount numeric, currency char(3), policy_version text, "
             "record jsonb, created_at_micros bigint, audit_seq bigint, audit_hash bytea) ON COMMIT DELETE ROWS");
    std::string rows;
    for (const std::string& id : desk_->changed_records()) {
      if (!desk_->contains(id)) continue;
      const desk::RequestRecord& r = desk_->get(id);
      const auto& c = r.request.content();
      field(rows, id);
      rows += '\t';
      field(rows, concessions::to_string(c.kind));
      rows += '\t';
      field(rows, requests::to_string(r.state()));
      rows += '\t';
      field(rows, c.customer.id);
      rows += '\t';
      field(rows, c.requester);
      rows += '\t';
      field(rows, c.team);
      rows += '\t';
      if (r.amount) {
        field(rows, r.amount->amount().to_string());
      } else {
        rows += "\\N";
      }
      rows += '\t';
      field(rows, r.amount ? r.amount->currency().code() : c.currency.code());
      rows += '\t';
      if (r.policy_version.empty()) {
        rows += "\\N";
      } else {
        field(rows, r.policy_version);
      }
      rows += '\t';
      field(rows, record_to_json(r, *desk_));
      rows += '\t';
      rows += std::to_string(r.request.created_at());
      rows += '\t';
      if (auto a = anchors.find(id); a != anchors.end()) {
        rows += std::to_string(a->second->sequence) + "\t\\\\x" + requests::to_hex(a->second->hash);
        anchors.erase(a);
      } else {
        rows += "\\N\t\\N";  // no event of it in this write: its anchor stays
      }
      rows += '\n';
    }
    if (!rows.empty()) {
      rows.pop_back();
      CopyIn copy(tx, "desk_requests_stage",
                  {"request_id", "kind", "state", "customer", "requester", "team", "amount", "currency", "policy_version",
                   "record", "created_at_micros", "audit_seq", "audit_hash"});
      copy.write(rows);
      copy.complete();
      tx.exec0("ANALYZE desk_requests_stage (request_id)");  // so the joins below look requests up by key
      // New requests go in as drafts and every staged row is then updated
      // to its state, so the database checks each move against the
      // lifecycle (an upsert would run the insert checks on updates).
      tx.exec0(
          "INSERT INTO amends.requests (book_id, request_id, kind, state, customer, requester, team, amount, currency, "
          "policy_version, changed_version, record, created_at) "
          "SELECT " + book + ", request_id, kind, 'draft', customer, requester, team, amount, currency, policy_version, " +
          std::to_string(version) +
          ", record, 'epoch'::timestamptz + created_at_micros * interval '1 microsecond' FROM desk_requests_stage s "
          // OFFSET 0: probed by key per staged row, never an anti-join reading every request of the book
          "WHERE NOT EXISTS (SELECT 1 FROM amends.requests r WHERE r.book_id = " + book +
          " AND r.request_id = s.request_id OFFSET 0)");
      tx.exec0("UPDATE amends.requests r SET state = s.state, amount = s.amount, currency = s.currency, "
               "policy_version = s.policy_version, changed_version = " + std::to_string(version) +
               ", record = s.record || '{}', audit_seq = coalesce(s.audit_seq, r.audit_seq), "
               "audit_hash = coalesce(s.audit_hash, r.audit_hash) FROM desk_requests_stage s WHERE r.book_id = " + book +
               " AND r.request_id = s.request_id");
    }
  }
  // A request with events in this write that the write did not change
  // (none today) still moves its anchor to its last event.
  for (const auto& [id, e] : anchors) {
    if (!desk_->contains(std::string(id))) continue;
    tx.exec_params("UPDATE amends.requests SET audit_seq = $3, audit_hash = decode($4, 'hex') "
                   "WHERE book_id = $1 AND request_id = $2",
                   s.book_id(), std::string(id), static_cast<std::int64_t>(e->sequence), requests::to_hex(e->hash));
  }
  const auto& outbox = desk_->outbox();
  if (outbox.size() > mark_.outbox) {
    std::string rows;
    for (std::size_t i = mark_.outbox; i < outbox.size(); ++i) {
      const desk::Notification& n = outbox[i];
      rows += book + '\t' + std::to_string(n.id) + '\t';
      field(rows, n.request);
      rows += '\t';
      field(rows, n.event);
      rows += '\t';
      field(rows, n.customer);
      rows += '\t';
      field(rows, n.subject);
      rows += '\t';
      field(rows, n.body);
      rows += '\t' + requests::format_timestamp(n.created_at) + '\n';
    }
    rows.pop_back();
    CopyIn copy(tx, "amends.outbox",
                {"book_id", "message_id", "request_id", "event", "customer", "subject", "body", "created_at"});
    copy.write(rows);
    copy.complete();
  }
  if (!desk_->new_run_rows().empty()) write_runs(s);
}

namespace {

// COPY text of a run's item rows (sql/003_reconciliation.sql), each line prefixed with book and run.
std::string item_text(const std::vector<reconcile::ItemRow>& rows, const std::string& prefix) {
  std::string out;
  out.reserve(rows.size() * (prefix.size() + 96));
  for (const reconcile::ItemRow& r : rows) {
    out += prefix;
    out += r.billing ? "billing\t" : "ledger\t";
    out += std::to_string(r.position) + '\t';
    text::append_copy_field(out, r.item_id);
    out += '\t';
    text::append_copy_field(out, r.customer);
    out += '\t';
    text::append_copy_field(out, r.currency);
    out += '\t' + std::to_string(r.amount_minor) + '\t' + Date::from_days(r.day).to_string() + '\t';
    out += reconcile::to_string(r.outcome);
    out += '\t';
    out += reconcile::to_string(r.matched_by);
    out += '\t';
    text::append_copy_field(out, r.counterpart);
    out += '\t' + std::to_string(r.difference_minor) + '\t';
    text::append_copy_field(out, r.reason);
    out += '\n';
  }
  if (!out.empty()) out.pop_back();  // CopyIn ends the last line
  return out;
}

std::string correction_text(const std::vector<reconcile::CorrectionRow>& rows, const std::string& prefix) {
  std::string out;
  for (const reconcile::CorrectionRow& row : rows) {
    const reconcile::Correction& c = row.correction;
    out += prefix + std::to_string(row.correction_id) + '\t';
    out += reconcile::to_string(c.action);
    out += '\t';
    text::append_copy_field(out, c.request);
    out += '\t';
    text::append_copy_field(out, c.billing_id);
    out += '\t' + std::to_string(c.amount_minor) + '\t';
    text::append_copy_field(out, c.currency);
    out += '\t';
    text::append_copy_field(out, c.reason);
    out += '\n';
  }
  if (!out.empty()) out.pop_back();
  return out;
}

}  // namespace

void DeskStore::write_runs(Session& s) {
  pqxx::transaction_base& tx = s.tx();
  const auto& runs = desk_->runs();
  const auto& rows = desk_->new_run_rows();
  const std::size_t first = runs.size() - rows.size();
  for (std::size_t k = 0; k < rows.size(); ++k) {
    const desk::ReconciliationRun& r = runs[first + k];
    tx.exec_params("INSERT INTO amends.reconciliation_runs (book_id, run_id, source, period_first, period_last, parameters, "
                   "inputs_sha256, summary, exceptions, created_at, created_by) VALUES ($1, $2, $3, $4, $5, $6::json, $7, "
                   "$8::json, $9, 'epoch'::timestamptz + $10::bigint * interval '1 microsecond', $11)",
                   s.book_id(), r.id, r.source, r.first.to_string(), r.last.to_string(), r.parameters, r.inputs_sha256,
                   r.summary, r.exceptions, std::to_string(r.at), r.actor);
    const std::string prefix = std::to_string(s.book_id()) + '\t' + std::to_string(r.id) + '\t';
    if (!rows[k].items.empty()) {
      CopyIn copy(tx, "amends.reconciliation_items",
                  {"book_id", "run_id", "side", "position", "item_id", "customer", "currency", "amount_minor", "day",
                   "outcome", "matched_by", "counterpart", "difference_minor", "reason"});
      copy.write(item_text(rows[k].items, prefix));
      copy.complete();
    }
    if (!rows[k].corrections.empty()) {
      CopyIn copy(tx, "amends.reconciliation_corrections",
                  {"book_id", "run_id", "correction_id", "action", "request_id", "billing_id", "amount_minor", "currency",
                   "reason"});
      copy.write(correction_text(rows[k].corrections, prefix));
      copy.complete();
    }
  }
}

namespace {

// A bytea field of COPY text output ("\x" and hex digits) as a hash.
requests::Hash hash_of_copy(const std::string& text) {
  std::string_view hex(text);
  if (hex.starts_with("\\x")) hex.remove_prefix(2);
  try {
    return checkpoint::parse_hash(hex, "an audit hash in the database");
  } catch (const invalid_argument& e) {
    throw store_error(e.what());
  }
}

// SHA-256 by OpenSSL's libcrypto (the same digest as requests::sha256, a
// few times faster), one context reused: verifying a million events is
// mostly hashing them.
class Sha256 {
 public:
  Sha256() : md_(EVP_MD_fetch(nullptr, "SHA256", nullptr)), ctx_(EVP_MD_CTX_new()) {
    if (!md_ || !ctx_) throw error("OpenSSL has no SHA-256");
  }
  ~Sha256() {
    EVP_MD_CTX_free(ctx_);
    EVP_MD_free(md_);
  }
  Sha256(const Sha256&) = delete;
  Sha256& operator=(const Sha256&) = delete;
  requests::Hash digest(std::string_view data) {
    requests::Hash out{};
    unsigned int length = 0;
    if (EVP_DigestInit_ex(ctx_, md_, nullptr) != 1 || EVP_DigestUpdate(ctx_, data.data(), data.size()) != 1 ||
        EVP_DigestFinal_ex(ctx_, out.data(), &length) != 1 || length != out.size())
      throw error("OpenSSL could not compute a SHA-256");
    return out;
  }

 private:
  EVP_MD* md_;
  EVP_MD_CTX* ctx_;
};

// A book's audit events by COPY in binary form (no text formatting of the
// integers and hashes on either side), over a libpq connection of its own
// that reads in an exported snapshot.
class BinaryEvents {
 public:
  BinaryEvents(const std::string& dsn, const std::string& snapshot, const std::string& query)
      : conn_(PQconnectdb(dsn.c_str())) {
    if (PQstatus(conn_) != CONNECTION_OK) fail("can't reach PostgreSQL: ");
    exec("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY", PGRES_COMMAND_OK);
    exec("SET TRANSACTION SNAPSHOT '" + snapshot + "'", PGRES_COMMAND_OK);
    exec("COPY (" + query + ") TO STDOUT (FORMAT binary)", PGRES_COPY_OUT);
  }
  ~BinaryEvents() { PQfinish(conn_); }
  BinaryEvents(const BinaryEvents&) = delete;
  BinaryEvents& operator=(const BinaryEvents&) = delete;

  // The next event (seq, at_micros, actor, request_id, event, details,
  // previous, hash); false after the last.
  bool next(requests::AuditEvent& e) {
    if (!started_) {
      static constexpr char signature[] = "PGCOPY\n\377\r\n";  // and a NUL: 11 bytes
      need(19);
      if (std::memcmp(buf_.data() + pos_, signature, 11) != 0) throw store_error("COPY sent no binary header");
      const std::uint32_t extension = u32(pos_ + 15);
      pos_ += 19;
      need(extension);
      pos_ += extension;
      started_ = true;
    }
    need(2);
    const auto fields = static_cast<std::int16_t>((static_cast<unsigned char>(buf_[pos_]) << 8) | static_cast<unsigned char>(buf_[pos_ + 1]));
    pos_ += 2;
    if (fields == -1) {
      finish();
      return false;
    }
    if (fields != 8) throw store_error("an audit event read back with " + std::to_string(fields) + " fields, not 8");
    e.sequence = static_cast<std::uint64_t>(i64(field(8)));
    e.at = i64(field(8));
    e.actor = field();
    e.request = field();
    e.event = field();
    e.details = field();
    hash(field(32), e.previous);
    hash(field(32), e.hash);
    return true;
  }

 private:
  [[noreturn]] void fail(const std::string& what) { throw store_error(what + PQerrorMessage(conn_)); }
  void exec(const std::string& sql, ExecStatusType want) {
    PGresult* r = PQexec(conn_, sql.c_str());
    const bool good = PQresultStatus(r) == want;
    PQclear(r);
    if (!good) fail("reading the audit trail failed: ");
  }
  // Until `n` unread bytes are buffered.
  void need(std::size_t n) {
    if (pos_ > (1u << 20)) {
      buf_.erase(0, pos_);
      pos_ = 0;
    }
    while (buf_.size() - pos_ < n) {
      char* data = nullptr;
      const int length = PQgetCopyData(conn_, &data, 0);
      if (length < 0) fail(length == -1 ? "the audit trail's COPY ended mid-row: " : "reading the audit trail failed: ");
      buf_.append(data, static_cast<std::size_t>(length));
      PQfreemem(data);
    }
  }
  std::uint32_t u32(std::size_t at) const {
    std::uint32_t v = 0;
    for (std::size_t i = 0; i < 4; ++i) v = (v << 8) | static_cast<unsigned char>(buf_[at + i]);
    return v;
  }
  static std::int64_t i64(std::string_view b) {
    std::uint64_t v = 0;
    for (char c : b) v = (v << 8) | static_cast<unsigned char>(c);
    return static_cast<std::int64_t>(v);
  }
  static void hash(std::string_view b, requests::Hash& out) { std::memcpy(out.data(), b.data(), out.size()); }
  // The next field's bytes (`size` of them, when given).
  std::string_view field(std::size_t size = std::string::npos) {
    need(4);
    const std::uint32_t length = u32(pos_);
    pos_ += 4;
    if (length == 0xffffffffu) throw store_error("an audit event read back with a NULL field");
    if (size != std::string::npos && length != size)
      throw store_error("an audit event's field read back as " + std::to_string(length) + " bytes, not " + std::to_string(size));
    need(length);
    std::string_view out(buf_.data() + pos_, length);
    pos_ += length;
    return out;
  }
  void finish() {
    char* data = nullptr;
    while (PQgetCopyData(conn_, &data, 0) >= 0) PQfreemem(data);
    PGresult* r = PQgetResult(conn_);
    const bool good = PQresultStatus(r) == PGRES_COMMAND_OK;
    PQclear(r);
    while ((r = PQgetResult(conn_)) != nullptr) PQclear(r);
    if (!good) fail("reading the audit trail failed: ");
  }

  PGconn* conn_;
  std::string buf_;
  std::size_t pos_ = 0;
  bool started_ = false;
};

std::string range(std::uint64_t first, std::uint64_t last) {
  return first == last ? "event " + std::to_string(first) + " is"
                       : "event " + std::to_string(first) + " through event " + std::to_string(last) + " are";
}

}  // namespace

AuditVerification verify_audit(const std::string& dsn, const std::string& book, std::size_t* count,
                               const checkpoint::Checkpoint* cp, bool records) {
  if (cp && cp->book != book)
    throw invalid_argument("the checkpoint is of book " + cp->book + ", not of book " + book +
                           ": verify it with --book " + cp->book);
  if (cp && cp->sequence == 0) throw invalid_argument("a checkpoint names an event: its seq is 1 or more");
  try {
    pqxx::connection conn(dsn);
    // One snapshot: the trail, the head and the anchors as of one moment.
    pqxx::transaction<pqxx::isolation_level::repeatable_read, pqxx::readwrite_policy::read_only> tx(conn);
    pqxx::result b = tx.exec_params("SELECT book_id FROM amends.books WHERE name = $1", book);
    if (b.empty()) throw store_error("there is no book named " + book + " in the database");
    const std::string id = b[0][0].c_str();
    AuditVerification v;
    // The first inconsistency by sequence wins; on a tie, the one noted first.
    auto note = [&v](std::uint64_t seq, const char* kind, std::string problem) {
      if (!v.ok && v.first_bad <= seq) return;
      v.ok = false;
      v.first_bad = seq;
      v.kind = kind;
      v.problem = std::move(problem);
    };

    // The chain, streamed: the checks of AuditTrail::verify, event by event.
    std::unordered_map<std::string, std::pair<std::uint64_t, requests::Hash>> last_of;  // request -> its last event
    bool chain = true;
    bool at_checkpoint = false;
    Sha256 sha;
    requests::Hash previous{};
    {
      // In binary form, over a connection of its own in this snapshot.
      BinaryEvents rows(dsn, tx.exec1("SELECT pg_export_snapshot()")[0].c_str(),
                        std::string("SELECT ") + kAuditColumns + " FROM amends.audit_events WHERE book_id = " + id +
                            " ORDER BY seq");
      requests::AuditEvent e;
      while (rows.next(e)) {
        ++v.events;
        if (chain) {
          const auto seq = [&e] { return std::to_string(e.sequence); };
          if (e.sequence != v.events) {
            note(e.sequence, "chain", "event " + std::to_string(v.events) + " carries sequence " + seq() +
                                          ": an event is missing or out of order");
            chain = false;
          } else if (e.previous != previous) {
            note(e.sequence, "chain", "event " + seq() + " does not link to the event before it");
            chain = false;
          } else if (sha.digest(requests::canonical(e)) != e.hash) {
            note(e.sequence, "chain", "event " + seq() + " was changed after it was written: its hash does not match");
            chain = false;
          }
          previous = e.hash;
        }
        if (cp && e.sequence == cp->sequence) {
          at_checkpoint = true;
          if (e.hash != cp->hash)
            note(e.sequence, "checkpoint",
                 "event " + std::to_string(e.sequence) + " no longer has the hash the checkpoint of " +
                     requests::format_timestamp(cp->at) + " recorded (" + requests::to_hex(cp->hash) +
                     "; now " + requests::to_hex(e.hash) + "): events up to it were rewritten after the checkpoint");
        }
        if (!e.request.empty()) {
          auto [it, inserted] = last_of.try_emplace(e.request, e.sequence, e.hash);
          if (!inserted) it->second = {e.sequence, e.hash};
        }
        v.last = e.sequence;
        v.last_hash = e.hash;
      }
    }
    if (cp) {
      v.checkpoint = cp->sequence;
      if (!at_checkpoint)
        note(std::min(cp->sequence, v.last + 1), "checkpoint",
             "the checkpoint of " + requests::format_timestamp(cp->at) + " is at event " + std::to_string(cp->sequence) +
                 ", but the trail " + (v.events ? "ends at event " + std::to_string(v.last) : std::string("is empty")) +
                 ": events were removed after the checkpoint");
    }

    // The head recorded for the book: the trail's last event.
    pqxx::result head = tx.exec_params("SELECT seq, encode(hash, 'hex') FROM amends.audit_heads WHERE book_id = $1", b[0][0].as<int>());
    if (!head.empty()) {
      v.head = head[0][0].as<std::uint64_t>();
      const requests::Hash head_hash = hash_of_copy(head[0][1].c_str());
      const std::string h = std::to_string(v.head);
      if (v.head > v.last)
        note(v.last + 1, "head",
             "the book's audit head is event " + h + ", but the trail " +
                 (v.events ? "ends at event " + std::to_string(v.last) : std::string("is empty")) + ": " +
                 range(v.last + 1, v.head) + " missing");
      else if (v.head < v.last)
        note(v.head + 1, "head",
             "the trail goes on past the book's audit head (event " + h + "): " + range(v.head + 1, v.last) +
                 " appended outside amends");
      else if (head_hash != v.last_hash)
        note(v.head, "head",
             "event " + h + " is not the event the book's audit head records: its hash is " + requests::to_hex(v.last_hash) +
                 ", the head's " + requests::to_hex(head_hash));
    } else if (v.events > 0) {
      note(v.last, "head",
           "the book has " + std::to_string(v.events) + " audit events but no audit head (amends.audit_heads): it was removed");
    }

    // Every anchored request: its anchor is its last event, with that hash.
    {
      pqxx::stream_from rows(tx, "(SELECT request_id, audit_seq, encode(audit_hash, 'hex') FROM amends.requests WHERE book_id = " +
                                     id + " AND audit_seq IS NOT NULL)");
      std::tuple<std::string, std::uint64_t, std::string> row;
      while (rows >> row) {
        ++v.anchored;
        const std::string& request = std::get<0>(row);
        const std::uint64_t seq = std::get<1>(row);
        const requests::Hash hash = hash_of_copy(std::get<2>(row));
        const std::string anchored = "request " + request + " is anchored at audit event " + std::to_string(seq);
        auto it = last_of.find(request);
        if (it == last_of.end()) {
          note(seq, "anchor", anchored + ", but the trail has no event of " + request + ": its events were removed");
        } else if (it->second.first < seq) {
          note(it->second.first + 1, "anchor",
               anchored + ", but its last event in the trail is event " + std::to_string(it->second.first) +
                   ": its later events were removed");
        } else if (it->second.first > seq) {
          note(it->second.first, "anchor",
               anchored + ", but the trail has a later event of it, event " + std::to_string(it->second.first) +
                   ", that did not change the request: it was added outside amends");
        } else if (it->second.second != hash) {
          note(seq, "anchor",
               anchored + " with hash " + requests::to_hex(hash) + ", but event " + std::to_string(seq) + " has hash " +
                   requests::to_hex(it->second.second) + ": it was rewritten");
        }
      }
      rows.complete();
    }
    // The request records, in a desk of their own over an empty ledger:
    // check_records needs the policies and the records only.
    if (records && v.ok) {
      Ledger ledger;
      desk::Desk d(ledger);
      for (const auto& row : tx.exec_params("SELECT body FROM amends.policies WHERE book_id = $1 ORDER BY published_at, version",
                                            b[0][0].as<int>()))
        d.load_policy(row[0].c_str());
      pqxx::stream_from rows(tx, "(SELECT request_id, record::text FROM amends.requests WHERE book_id = " + id + ")");
      std::tuple<std::string, std::string> row;
      while (rows >> row) {
        try {
          d.load_record(record_from_json(std::get<1>(row), d));
        } catch (const store_error& e) {
          d.load_unreadable(std::get<0>(row), e.what());
        }
      }
      rows.complete();
      v.findings = d.check_records();
    }
    tx.commit();
    if (count) *count = v.events;
    return v;
  } catch (const pqxx::broken_connection& e) {
    throw store_error(std::string("can't reach PostgreSQL: ") + e.what());
  }
}

}  // namespace amends::store
