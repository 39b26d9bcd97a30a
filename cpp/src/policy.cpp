#include "amends/policy.hpp"

#include <algorithm>
#include <fstream>
#include <map>
#include <set>
#include <sstream>

#define TOML_HEADER_ONLY 1
#define TOML_EXCEPTIONS 1
#include <toml++/toml.h>

namespace amends::policy {

namespace {

[[noreturn]] void fail(const std::string& where, const std::string& what) {
  throw policy_error("policy " + where + ": " + what);
}

std::string text_of(const toml::node* node, const std::string& where, bool required = true) {
  if (!node) {
    if (required) fail(where, "is missing");
    return {};
  }
  if (auto s = node->value<std::string>()) return *s;
  fail(where, "must be a string");
}

std::vector<std::string> strings_of(const toml::node* node, const std::string& where) {
  std::vector<std::string> out;
  if (!node) return out;
  const toml::array* array = node->as_array();
  if (!array) fail(where, "must be an array of strings");
  for (std::size_t i = 0; i < array->size(); ++i) out.push_back(text_of(array->get(i), where + "[" + std::to_string(i) + "]"));
  return out;
}

Decimal amount_of(const toml::node* node, const std::string& where) {
  // Amounts are strings ("50.00"): a TOML float would be binary.
  const std::string text = text_of(node, where);
  try {
    return Decimal::parse(text);
  } catch (const parse_error& e) {
    fail(where, e.what());
  }
}

Date date_of(const toml::node* node, const std::string& where) {
  if (!node) fail(where, "is missing");
  if (auto d = node->value<toml::date>())
    return Date::from_ymd(d->year, d->month, d->day);
  return Date::parse(text_of(node, where));
}

std::string amount_text(const Decimal& amount, Currency currency) {
  return amount.to_string(currency.minor_units()) + " " + std::string(currency.code());
}

int int_of(const toml::node* node, const std::string& where, int low, int high) {
  auto v = node ? node->value<std::int64_t>() : std::nullopt;
  if (!v || *v < low || *v > high) fail(where, "must be a whole number from " + std::to_string(low) + " to " + std::to_string(high));
  return static_cast<int>(*v);
}

bool bool_of(const toml::node* node, const std::string& where) {
  auto v = node ? node->value<bool>() : std::nullopt;
  if (!v) fail(where, "must be true or false");
  return *v;
}

Decimal fraction_of(const toml::node* node, const std::string& where) {
  Decimal d = amount_of(node, where);
  if (d.sign() < 0 || Decimal(1) < d) fail(where, "must be a fraction from \"0\" to \"1\" (\"0.10\" for 10%)");
  return d;
}

void caps_of(const toml::table* t, const char* key, const std::string& where,
             std::map<std::string, Decimal, std::less<>>& out) {
  const toml::node* node = t->get(key);
  if (!node) return;
  const toml::table* caps = node->as_table();
  if (!caps) fail(where + "." + key, "must be a table of tier = \"amount\"");
  for (const auto& [tier, amount] : *caps) {
    Decimal cap = amount_of(&amount, where + "." + key + "." + std::string(tier.str()));
    if (cap.sign() < 0) fail(where + "." + key + "." + std::string(tier.str()), "must not be negative");
    out.emplace(std::string(tier.str()), cap);
  }
}

void known_keys(const toml::table* t, const std::string& where, std::initializer_list<std::string_view> keys) {
  for (const auto& [key, value] : *t)
    if (std::find(keys.begin(), keys.end(), key.str()) == keys.end())
      fail(where, "has an unknown key \"" + std::string(key.str()) + "\"");
}

Terms terms_of(const toml::table& doc) {
  Terms terms;
  if (const toml::table* sc = doc["terms"]["service_credit"].as_table()) {
    const std::string where = "terms.service_credit";
    known_keys(sc, where, {"tiers", "cap_fraction", "cap_amount", "minimum_credit", "claim_window_days"});
    if (const toml::node* tiers = sc->get("tiers")) {
      const toml::array* array = tiers->as_array();
      if (!array || array->empty()) fail(where + ".tiers", "must be a non-empty array of { below, credit }");
      terms.service_credit.tiers.clear();
      for (std::size_t i = 0; i < array->size(); ++i) {
        const std::string w = where + ".tiers[" + std::to_string(i) + "]";
        const toml::table* tier = array->get(i)->as_table();
        if (!tier) fail(w, "must be a table { below = \"0.9999\", credit = \"0.10\" }");
        terms.service_credit.tiers.push_back({fraction_of(tier->get("below"), w + ".below"),
                                              fraction_of(tier->get("credit"), w + ".credit")});
      }
    }
    if (sc->get("cap_fraction")) terms.service_credit.cap_fraction = fraction_of(sc->get("cap_fraction"), where + ".cap_fraction");
    if (sc->get("cap_amount")) terms.service_credit.cap_amount = amount_of(sc->get("cap_amount"), where + ".cap_amount");
    if (sc->get("minimum_credit")) terms.service_credit.minimum_credit = amount_of(sc->get("minimum_credit"), where + ".minimum_credit");
    if (sc->get("claim_window_days")) terms.service_credit.claim_window_days = int_of(sc->get("claim_window_days"), where + ".claim_window_days", 0, 3660);
  }
  if (const toml::table* rf = doc["terms"]["refund"].as_table()) {
    known_keys(rf, "terms.refund", {"return_window_days"});
    if (rf->get("return_window_days"))
      terms.refund.return_window_days = int_of(rf->get("return_window_days"), "terms.refund.return_window_days", 0, 3660);
  }
  if (const toml::table* gw = doc["terms"]["goodwill"].as_table()) {
    known_keys(gw, "terms.goodwill", {"per_request_cap", "trailing_cap"});
    caps_of(gw, "per_request_cap", "terms.goodwill", terms.goodwill.per_request_cap);
    caps_of(gw, "trailing_cap", "terms.goodwill", terms.goodwill.trailing_cap);
  }
  if (const toml::table* rt = doc["terms"]["retention"].as_table()) {
    known_keys(rt, "terms.retention", {"max_share_of_value"});
    if (rt->get("max_share_of_value"))
      terms.retention.max_share_of_value = fraction_of(rt->get("max_share_of_value"), "terms.retention.max_share_of_value");
  }
  if (const toml::table* b = doc["budget"].as_table()) {
    known_keys(b, "budget", {"kinds", "escalate_to"});
    if (b->get("kinds")) {
      terms.budget_kinds.clear();
      for (const std::string& k : strings_of(b->get("kinds"), "budget.kinds")) {
        try {
          terms.budget_kinds.push_back(concessions::parse_kind(k));
        } catch (const invalid_argument& e) {
          fail("budget.kinds", e.what());
        }
      }
    }
    terms.budget_escalate_to = text_of(b->get("escalate_to"), "budget.escalate_to", false);
  }
  if (const toml::table* a = doc["accounting"].as_table()) {
    known_keys(a, "accounting", {"goodwill_as_expense", "cash_account"});
    if (a->get("goodwill_as_expense")) terms.accounting.goodwill_as_expense = bool_of(a->get("goodwill_as_expense"), "accounting.goodwill_as_expense");
    if (a->get("cash_account")) terms.accounting.cash_account = text_of(a->get("cash_account"), "accounting.cash_account");
  }
  return terms;
}

}  // namespace

bool Terms::draws_on_budget(concessions::Kind kind) const {
  return std::find(budget_kinds.begin(), budget_kinds.end(), kind) != budget_kinds.end();
}

std::string_view to_string(Outcome outcome) {
  switch (outcome) {
    case Outcome::auto_approved: return "auto_approved";
    case Outcome::needs_approval: return "needs_approval";
    case Outcome::blocked: return "blocked";
  }
  return "blocked";
}

Policy Policy::parse(std::string_view toml_text) {
  toml::table doc;
  try {
    doc = toml::parse(toml_text);
  } catch (const toml::parse_error& e) {
    std::ostringstream where;
    where << "line " << e.source().begin.line << ", column " << e.source().begin.column;
    throw policy_error("policy file does not parse at " + where.str() + ": " + std::string(e.description()));
  }
  Policy p;
  p.version = text_of(doc.get("version"), "version");
  if (const toml::node* base = doc.get("base_currency")) p.base_currency = Currency::of(text_of(base, "base_currency"));
  p.exception_role = text_of(doc.get("exception_role"), "exception_role", false);
  if (const toml::node* er = doc.get("exception_roles")) {
    const toml::table* t = er->as_table();
    if (!t) fail("exception_roles", "must be a table of finding code = \"role\"");
    for (const auto& [code, role] : *t)
      p.exception_roles.emplace(std::string(code.str()), text_of(&role, "exception_roles." + std::string(code.str())));
  }
  if (const toml::table* roles = doc["roles"].as_table()) {
    for (const auto& [name, people] : *roles) {
      const std::string role_name(name.str());
      p.roles.push_back(Role{role_name, strings_of(&people, "roles." + role_name)});
      if (p.roles.back().people.empty()) fail("roles." + role_name, "names nobody");
    }
  }
  if (const toml::array* delegations = doc["delegations"].as_array()) {
    for (std::size_t i = 0; i < delegations->size(); ++i) {
      const std::string where = "delegations[" + std::to_string(i) + "]";
      const toml::table* d = delegations->get(i)->as_table();
      if (!d) fail(where, "must be a table");
      Delegation del{text_of(d->get("from"), where + ".from"), text_of(d->get("to"), where + ".to"),
                     date_of(d->get("start"), where + ".start"), date_of(d->get("end"), where + ".end")};
      if (del.end < del.start) fail(where, "ends before it starts");
      if (del.from == del.to) fail(where, "delegates to the same person");
      p.delegations.push_back(std::move(del));
    }
  }
  const toml::array* rules = doc["rules"].as_array();
  if (!rules || rules->empty()) fail("rules", "are missing: a policy without rules would block every request");
  std::set<std::string> names;
  for (std::size_t i = 0; i < rules->size(); ++i) {
    std::string where = "rules[" + std::to_string(i) + "]";
    const toml::table* r = rules->get(i)->as_table();
    if (!r) fail(where, "must be a table");
    Rule rule;
    rule.name = text_of(r->get("name"), where + ".name");
    where += " (" + rule.name + ")";
    if (!names.insert(rule.name).second) fail(where, "has the name of an earlier rule");
    for (const std::string& k : strings_of(r->get("kinds"), where + ".kinds")) {
      try {
        rule.kinds.push_back(concessions::parse_kind(k));
      } catch (const invalid_argument& e) {
        fail(where + ".kinds", e.what());
      }
    }
    if (rule.kinds.empty()) fail(where + ".kinds", "names no kind of concession");
    if (r->get("over")) rule.over = amount_of(r->get("over"), where + ".over");
    if (r->get("up_to")) rule.up_to = amount_of(r->get("up_to"), where + ".up_to");
    if (rule.over && rule.up_to && !(*rule.over < *rule.up_to)) fail(where, "has a band whose floor is not below its ceiling");
    rule.tiers = strings_of(r->get("tiers"), where + ".tiers");
    if (const toml::node* a = r->get("auto_approve")) {
      auto value = a->value<bool>();
      if (!value) fail(where + ".auto_approve", "must be true or false");
      rule.auto_approve = *value;
    }
    if (const toml::array* steps = r->get_as<toml::array>("steps")) {
      for (std::size_t s = 0; s < steps->size(); ++s) {
        const std::string step_where = where + ".steps[" + std::to_string(s) + "]";
        const toml::table* st = steps->get(s)->as_table();
        if (!st) fail(step_where, "must be a table: { any_of = [...] } or { all_of = [...] }");
        Step step;
        const bool any = st->get("any_of") != nullptr, all = st->get("all_of") != nullptr;
        if (any == all) fail(step_where, "needs exactly one of any_of and all_of");
        step.all_of = all;
        step.roles = strings_of(st->get(all ? "all_of" : "any_of"), step_where);
        if (step.roles.empty()) fail(step_where, "names no role");
        if (const toml::node* h = st->get("escalate_after_hours")) {
          auto hours = h->value<std::int64_t>();
          if (!hours || *hours <= 0) fail(step_where + ".escalate_after_hours", "must be a positive number of hours");
          step.escalate_after_hours = static_cast<int>(*hours);
          step.escalate_to = text_of(st->get("escalate_to"), step_where + ".escalate_to");
        }
        rule.steps.push_back(std::move(step));
      }
    }
    if (rule.auto_approve && !rule.steps.empty()) fail(where, "auto-approves and has steps; choose one");
    if (!rule.auto_approve && rule.steps.empty()) fail(where, "has no steps and does not auto-approve");
    p.rules.push_back(std::move(rule));
  }
  // Every role a step or an escalation names exists.
  auto check_role = [&](const std::string& role, const std::string& where) {
    if (!p.role(role)) fail(where, "names the role \"" + role + "\", which [roles] does not define");
  };
  if (!p.exception_role.empty()) check_role(p.exception_role, "exception_role");
  for (const auto& [code, role] : p.exception_roles) check_role(role, "exception_roles." + code);
  p.terms = terms_of(doc);
  if (!p.terms.budget_escalate_to.empty()) check_role(p.terms.budget_escalate_to, "budget.escalate_to");
  for (const Rule& rule : p.rules)
    for (const Step& step : rule.steps) {
      for (const std::string& role : step.roles) check_role(role, "rule " + rule.name);
      if (!step.escalate_to.empty()) check_role(step.escalate_to, "rule " + rule.name);
    }
  return p;
}

Policy Policy::load(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw io_error("can't read the policy file " + path);
  std::ostringstream text;
  text << in.rdbuf();
  return parse(text.str());
}

std::string Policy::evidence_type(std::string_view id) const {
  for (const auto& [type, prefixes] : evidence_types)
    for (const std::string& prefix : prefixes)
      if (id.starts_with(prefix)) return type;
  return {};
}

const Role* Policy::role(std::string_view name) const {
  for (const Role& r : roles)
    if (r.name == name) return &r;
  return nullptr;
}

std::vector<std::string> Policy::people_for(std::string_view role_name, Date on) const {
  std::vector<std::string> out;
  const Role* r = role(role_name);
  if (!r) return out;
  for (const std::string& person : r->people) {
    std::string acting = person;
    for (const Delegation& d : delegations)
      if (d.from == person && !(on < d.start) && !(d.end < on)) acting = d.to;
    if (std::find(out.begin(), out.end(), acting) == out.end()) out.push_back(acting);
  }
  return out;
}

int match(const Policy& policy, const RouteInput& request) {
  for (std::size_t i = 0; i < policy.rules.size(); ++i) {
    const Rule& rule = policy.rules[i];
    if (std::find(rule.kinds.begin(), rule.kinds.end(), request.kind) == rule.kinds.end()) continue;
    if (rule.over && !(*rule.over < request.amount)) continue;
    if (rule.up_to && *rule.up_to < request.amount) continue;
    if (!rule.tiers.empty() && std::find(rule.tiers.begin(), rule.tiers.end(), request.tier) == rule.tiers.end()) continue;
    if (rule.auto_approve && request.has_exception) continue;
    return static_cast<int>(i);
  }
  return -1;
}

Route route(const Policy& policy, const RouteInput& request) {
  Route result;
  result.policy_version = policy.version;
  const std::string amount = amount_text(request.amount, policy.base_currency);
  const std::string kind(concessions::to_string(request.kind));
  for (const Rule& rule : policy.rules) {
    const std::string head = "rule \"" + rule.name + "\"";
    if (std::find(rule.kinds.begin(), rule.kinds.end(), request.kind) == rule.kinds.end()) {
      result.explanation.push_back(head + " does not apply: it is not for " + kind + " requests");
      continue;
    }
    if (rule.over && !(*rule.over < request.amount)) {
      result.explanation.push_back(head + " does not apply: " + amount + " is not over " +
                                   amount_text(*rule.over, policy.base_currency));
      continue;
    }
    if (rule.up_to && *rule.up_to < request.amount) {
      result.explanation.push_back(head + " does not apply: " + amount + " is over its ceiling of " +
                                   amount_text(*rule.up_to, policy.base_currency));
      continue;
    }
    if (!rule.tiers.empty() && std::find(rule.tiers.begin(), rule.tiers.end(), request.tier) == rule.tiers.end()) {
      result.explanation.push_back(head + " does not apply: it is not for tier " + request.tier);
      continue;
    }
    if (rule.auto_approve && request.has_exception) {
      std::string codes;
      for (const std::string& c : request.exception_codes) codes += (codes.empty() ? "" : ", ") + c;
      result.explanation.push_back(head + " would auto-approve, but the request has exceptions (" + codes +
                                   "), which need people");
      continue;
    }
    result.rule = rule.name;
    if (rule.auto_approve) {
      result.outcome = Outcome::auto_approved;
      result.explanation.push_back(head + " matches: a " + kind + " request of " + amount +
                                   " in policy is approved automatically");
      return result;
    }
    result.outcome = Outcome::needs_approval;
    result.steps = rule.steps;
    std::string steps;
    for (const Step& s : rule.steps) {
      std::string roles;
      for (const std::string& r : s.roles) roles += (roles.empty() ? "" : s.all_of ? " and " : " or ") + r;
      steps += (steps.empty() ? "" : ", then ") + roles;
    }
    result.explanation.push_back(head + " matches: a " + kind + " request of " + amount + " (tier " + request.tier +
                                 ") needs " + steps);
    // Each exception goes to the role the policy names for it, or to the
    // exception role; one step per role, in the order the findings came.
    std::vector<std::pair<std::string, std::string>> extra;  // role, codes
    for (const std::string& code : request.exception_codes) {
      auto named = policy.exception_roles.find(code);
      const std::string role = named != policy.exception_roles.end() ? named->second : policy.exception_role;
      if (role.empty()) continue;
      auto at = std::find_if(extra.begin(), extra.end(), [&](const auto& e) { return e.first == role; });
      if (at == extra.end()) {
        extra.emplace_back(role, code);
      } else {
        at->second += ", " + code;
      }
    }
    if (request.has_exception && request.exception_codes.empty() && !policy.exception_role.empty())
      extra.emplace_back(policy.exception_role, "exceptions");
    for (const auto& [role, codes] : extra) {
      if (std::any_of(result.steps.begin(), result.steps.end(), [&](const Step& s) {
            return !s.all_of && s.roles.size() == 1 && s.roles[0] == role;
          }))
        continue;  // the rule's own steps already ask that role
      result.steps.push_back(Step{false, {role}, std::nullopt, {}});
      result.explanation.push_back("the request has exceptions (" + codes + "), so " + role + " approves it too");
    }
    return result;
  }
  result.outcome = Outcome::blocked;
  result.reason = "no rule of policy " + policy.version + " covers a " + kind + " request of " + amount + " (tier " +
                  request.tier + "); it is blocked, not approved (add a rule or route it by hand)";
  result.explanation.push_back(result.reason);
  return result;
}

}  // namespace amends::policy
