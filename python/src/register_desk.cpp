// amends._core: the concession desk (amends.Desk wraps it) and its store.
#include <pybind11/stl.h>

#include "amends/checkpoint.hpp"
#include "amends/desk.hpp"
#include "amends/desk_store.hpp"
#include "convert.hpp"

namespace amends::python {

namespace {

using desk::Desk;
using desk::RequestRecord;

py::object money_or_none(const std::optional<Money>& m) {
  if (!m) return py::none();
  return to_python(m->amount(), m->currency());
}

template <class T>
T get(const py::dict& d, const char* key, T fallback) {
  if (!d.contains(key) || d[key].is_none()) return fallback;
  return d[key].cast<T>();
}

std::optional<Money> money_of(const py::dict& d, const char* key, Currency currency) {
  if (!d.contains(key) || d[key].is_none()) return std::nullopt;
  return Money(to_decimal(d[key], key), currency);
}

requests::RequestContent content_of(const py::dict& d) {
  requests::RequestContent c;
  for (auto item : d) {
    static const char* known[] = {"kind", "customer", "tier", "customer_value", "amount", "currency", "reason",
                                  "justification", "evidence", "requester", "team", "service_period", "period_fee",
                                  "availability", "charge", "discount", "monthly_fee", "months", "changes_contract",
                                  "override_reason"};
    const std::string key = py::str(item.first);
    if (std::find_if(std::begin(known), std::end(known), [&](const char* k) { return key == k; }) == std::end(known))
      throw invalid_argument("a request has no field \"" + key + "\"");
  }
  if (!d.contains("kind")) throw invalid_argument("a request names its kind");
  c.kind = concessions::parse_kind(to_utf8(d["kind"], "kind"));
  c.currency = d.contains("currency") && !d["currency"].is_none() ? to_currency(d["currency"]) : Currency::of("USD");
  c.customer.id = get<std::string>(d, "customer", "");
  c.customer.tier = get<std::string>(d, "tier", "");
  c.customer.value = money_of(d, "customer_value", c.currency);
  c.amount = money_of(d, "amount", c.currency);
  c.reason_code = get<std::string>(d, "reason", "");
  c.justification = get<std::string>(d, "justification", "");
  c.evidence = get<std::vector<std::string>>(d, "evidence", {});
  c.requester = get<std::string>(d, "requester", "");
  c.team = get<std::string>(d, "team", "");
  if (d.contains("service_period") && !d["service_period"].is_none()) c.service_period = to_period(d["service_period"]);
  c.claim.period_fee = money_of(d, "period_fee", c.currency);
  if (d.contains("availability") && !d["availability"].is_none())
    c.claim.measured_availability = to_decimal(d["availability"], "availability");
  c.claim.original_transaction = get<std::string>(d, "charge", "");
  if (d.contains("discount") && !d["discount"].is_none()) c.claim.discount = to_decimal(d["discount"], "discount");
  c.claim.monthly_fee = money_of(d, "monthly_fee", c.currency);
  c.claim.months = get<int>(d, "months", 0);
  c.claim.changes_contract = get<bool>(d, "changes_contract", false);
  c.claim.override_reason = get<std::string>(d, "override_reason", "");
  return c;
}

// The fields an amendment names (as submit's); every other keeps its value.
requests::RequestChanges changes_of(const py::dict& d) {
  static const char* known[] = {"kind", "customer", "tier", "customer_value", "amount", "currency", "reason",
                                "justification", "evidence", "requester", "team", "service_period", "period_fee",
                                "availability", "charge", "discount", "monthly_fee", "months", "changes_contract",
                                "override_reason"};
  for (auto item : d) {
    const std::string key = py::str(item.first);
    if (std::find_if(std::begin(known), std::end(known), [&](const char* k) { return key == k; }) == std::end(known))
      throw invalid_argument("a request has no field \"" + key + "\"");
  }
  requests::RequestChanges c;
  auto text = [&](const char* key, std::optional<std::string>& out) {
    if (d.contains(key)) out = d[key].is_none() ? std::string() : to_utf8(d[key], key);
  };
  auto decimal = [&](const char* key, std::optional<std::optional<Decimal>>& out) {
    if (d.contains(key)) out = d[key].is_none() ? std::optional<Decimal>() : std::optional<Decimal>(to_decimal(d[key], key));
  };
  if (d.contains("kind")) c.kind = concessions::parse_kind(to_utf8(d["kind"], "kind"));
  text("requester", c.requester);
  text("customer", c.customer);
  text("tier", c.tier);
  text("reason", c.reason_code);
  text("justification", c.justification);
  text("team", c.team);
  text("charge", c.original_transaction);
  text("override_reason", c.override_reason);
  decimal("customer_value", c.customer_value);
  decimal("amount", c.amount);
  decimal("period_fee", c.period_fee);
  decimal("availability", c.measured_availability);
  decimal("discount", c.discount);
  decimal("monthly_fee", c.monthly_fee);
  if (d.contains("currency") && !d["currency"].is_none()) c.currency = to_currency(d["currency"]);
  if (d.contains("evidence"))
    c.evidence = d["evidence"].is_none() ? std::vector<std::string>{} : d["evidence"].cast<std::vector<std::string>>();
  if (d.contains("service_period"))
    c.service_period = d["service_period"].is_none() ? std::optional<Period>() : std::optional<Period>(to_period(d["service_period"]));
  if (d.contains("months")) c.months = d["months"].is_none() ? 0 : d["months"].cast<int>();
  if (d.contains("changes_contract")) c.changes_contract = !d["changes_contract"].is_none() && d["changes_contract"].cast<bool>();
  return c;
}

py::dict record_dict(const Desk& desk, const RequestRecord& r) {
  const auto& c = r.request.content();
  py::dict out;
  out["id"] = r.id();
  out["kind"] = std::string(concessions::to_string(c.kind));
  out["state"] = std::string(requests::to_string(r.state()));
  out["version"] = r.request.version();
  out["customer"] = c.customer.id;
  out["tier"] = c.customer.tier;
  out["requester"] = c.requester;
  out["team"] = c.team;
  out["reason"] = c.reason_code;
  out["justification"] = c.justification;
  out["evidence"] = c.evidence;
  out["requested"] = money_or_none(c.amount);
  out["amount"] = money_or_none(r.amount);
  out["currency"] = std::string((r.amount ? r.amount->currency() : c.currency).code());
  out["base_amount"] = to_python(r.base_amount, desk.book().config().base_currency);
  out["conversion"] = r.conversion;
  out["service_period"] = c.service_period ? py::object(py::str(c.service_period->to_string())) : py::none();
  out["policy_version"] = r.policy_version.empty() ? py::object(py::none()) : py::object(py::str(r.policy_version));
  out["outcome"] = r.policy_version.empty() ? py::object(py::none()) : py::object(py::str(policy::to_string(r.route.outcome)));
  out["rule"] = r.route.rule.empty() ? py::object(py::none()) : py::object(py::str(r.route.rule));
  out["blocked"] = r.blocked.empty() ? py::object(py::none()) : py::object(py::str(r.blocked));
  out["incomplete"] = r.incomplete.empty() ? py::object(py::none()) : py::object(py::str(r.incomplete));
  py::list findings;
  for (const auto& f : r.assessment.findings) {
    py::dict fd;
    fd["code"] = f.code;
    fd["severity"] = std::string(concessions::to_string(f.severity));
    fd["message"] = f.message;
    findings.append(fd);
  }
  out["findings"] = findings;
  py::list steps;
  if (r.chain) {
    for (std::size_t i = 0; i < r.chain->steps().size(); ++i) {
      const auto& s = r.chain->steps()[i];
      py::dict sd;
      sd["roles"] = s.step.roles;
      sd["all_of"] = s.step.all_of;
      sd["done"] = s.done;
      sd["current"] = i == r.chain->current_step();
      sd["escalated"] = s.escalated;
      py::list approvals;
      for (const auto& a : s.approvals) {
        py::dict ad;
        ad["person"] = a.person;
        ad["role"] = a.role;
        ad["at"] = a.at;
        ad["comment"] = a.comment;
        ad["as_delegate"] = a.as_delegate;
        approvals.append(ad);
      }
      sd["approvals"] = approvals;
      steps.append(sd);
    }
  }
  out["steps"] = steps;
  out["reservation"] = r.reservation ? py::object(py::int_(r.reservation.value)) : py::none();
  std::vector<std::uint64_t> entries;
  for (EntryId e : r.entries) entries.push_back(e.value);
  out["entries"] = entries;
  out["posting_period"] = r.posting_period ? py::object(py::str(r.posting_period->to_string())) : py::none();
  out["out_of_period"] = r.out_of_period;
  out["accrued"] = r.accrued;
  out["alternatives"] = r.alternatives;
  py::list history;
  for (const auto& t : r.request.history()) {
    py::dict td;
    td["at"] = t.at;
    td["actor"] = t.actor;
    td["action"] = std::string(requests::to_string(t.action));
    td["from"] = std::string(requests::to_string(t.from));
    td["to"] = std::string(requests::to_string(t.to));
    td["comment"] = t.comment;
    history.append(td);
  }
  out["history"] = history;
  out["created_at"] = r.request.created_at();
  return out;
}

py::dict utilisation_dict(const desk::Utilisation& u) {
  py::dict d;
  d["owner"] = u.owner;
  d["kind"] = u.kind;
  d["period"] = u.period.to_string();
  d["currency"] = std::string(u.currency.code());
  d["hard"] = u.hard;
  d["allocated"] = to_python(u.allocated, u.currency);
  d["reserved"] = to_python(u.reserved, u.currency);
  d["consumed"] = to_python(u.consumed, u.currency);
  d["available"] = to_python(u.available, u.currency);
  return d;
}

py::dict verification_dict(const requests::AuditTrail::Verification& v, std::size_t events) {
  py::dict d;
  d["ok"] = v.ok;
  d["events"] = events;
  d["first_bad"] = v.ok ? py::object(py::none()) : py::object(py::int_(v.first_bad));
  d["problem"] = v.problem;
  return d;
}

// A checkpoint {book, seq, hash, at_micros, ...} as the core's.
checkpoint::Checkpoint checkpoint_of(const py::dict& d, bool signed_ = true) {
  for (const char* key : {"book", "seq", "hash", "at_micros", "signature"})
    if (!d.contains(key) && (signed_ || std::string_view(key) != "signature")) throw invalid_argument(std::string("a checkpoint has a ") + key + "; this one has none");
  checkpoint::Checkpoint c;
  try {
    c.book = d["book"].cast<std::string>();
    c.sequence = d["seq"].cast<std::uint64_t>();
    c.at = d["at_micros"].cast<std::int64_t>();
    if (signed_) d["signature"].cast<std::string>();
    d["hash"].cast<std::string>();
  } catch (const py::cast_error&) {
    throw invalid_argument("a checkpoint's book, hash and signature are strings, its seq and at_micros integers (seq 1 or more)");
  }
  if (c.sequence == 0) throw invalid_argument("a checkpoint's seq is 1 or more");
  c.hash = checkpoint::parse_hash(d["hash"].cast<std::string>(), "a checkpoint's hash");
  return c;
}

}  // namespace

void register_desk(py::module_& m) {
  py::object amends_error = m.attr("AmendsError");
  static PyObject* budget_exceeded_class = PyErr_NewExceptionWithDoc(
      "amends.BudgetExceeded", "No budget, or not enough of a hard one, for an approval.",
      m.attr("BalanceLimitExceeded").ptr(), nullptr);
  m.add_object("BudgetExceeded", py::reinterpret_borrow<py::object>(budget_exceeded_class));
  static PyObject* not_found_class = PyErr_NewExceptionWithDoc(
      "amends.NotFound", "No request, charge, budget or policy version of that name.",
      py::make_tuple(amends_error, py::module_::import("builtins").attr("LookupError")).ptr(), nullptr);
  m.add_object("NotFound", py::reinterpret_borrow<py::object>(not_found_class));
  static PyObject* request_state_class = PyErr_NewExceptionWithDoc(
      "amends.RequestStateError", "A request moved in a way its lifecycle does not allow.", amends_error.ptr(), nullptr);
  m.add_object("RequestStateError", py::reinterpret_borrow<py::object>(request_state_class));
  static PyObject* close_refused_class = PyErr_NewExceptionWithDoc(
      "amends.CloseRefused", "A period close that would strand approved, unapplied concessions.", amends_error.ptr(),
      nullptr);
  m.add_object("CloseRefused", py::reinterpret_borrow<py::object>(close_refused_class));
  py::register_exception_translator([](std::exception_ptr failure) {
    try {
      if (failure) std::rethrow_exception(failure);
    } catch (const budget_exceeded& e) {
      PyErr_SetString(budget_exceeded_class, e.what());
    } catch (const not_found& e) {
      PyErr_SetString(not_found_class, e.what());
    } catch (const request_state_error& e) {
      PyErr_SetString(request_state_class, e.what());
    } catch (const close_refused& e) {
      PyErr_SetString(close_refused_class, e.what());
    }
  });

  py::class_<Desk>(m, "_Desk", "The concession desk of a ledger (amends.Desk wraps it).")
      .def(py::init<Ledger&>(), py::arg("ledger"), py::keep_alive<1, 2>())
      .def(
          "publish_policy",
          [](Desk& d, const std::string& text, const std::string& actor, requests::Timestamp at) {
            return d.publish_policy(text, actor, at).version;
          },
          py::arg("text"), py::arg("actor"), py::arg("at"))
      .def_property_readonly("policy_version", [](const Desk& d) { return d.policy().version; })
      .def("policy_versions", [](const Desk& d) { return d.policy_order(); })
      .def("policy_text", [](const Desk& d, const std::string& v) { return d.policy_texts().at(v); }, py::arg("version"))
      .def(
          "set_rate",
          [](Desk& d, py::handle currency, py::handle day, py::handle rate) {
            d.set_rate(to_currency(currency), to_date(day, "day"), to_decimal(rate, "rate"));
          },
          py::arg("currency"), py::arg("day"), py::arg("rate"))
      .def(
          "to_base",
          [](const Desk& d, py::handle amount, py::handle currency, py::handle day) {
            const Money m = d.to_base(Money(to_decimal(amount), to_currency(currency)), to_date(day, "day"));
            return to_python(m.amount(), m.currency());
          },
          py::arg("amount"), py::arg("currency"), py::arg("day"))
      .def(
          "record_charge",
          [](Desk& d, const std::string& id, const std::string& customer, py::handle amount, py::handle currency,
             py::handle day, py::handle refunded) {
            d.record_charge(desk::Charge{id, customer, Money(to_decimal(amount), to_currency(currency)),
                                         to_date(day, "day"), refunded.is_none() ? Decimal() : to_decimal(refunded, "refunded")});
          },
          py::arg("id"), py::arg("customer"), py::arg("amount"), py::arg("currency"), py::arg("day"),
          py::arg("refunded") = py::none())
      .def(
          "allocate",
          [](Desk& d, const std::string& owner, const std::string& kind, py::handle period, py::handle amount, bool hard,
             py::handle on, const std::string& actor, std::optional<requests::Timestamp> at) {
            return d.allocate(owner, concessions::parse_kind(kind), to_period(period), to_decimal(amount), hard,
                              to_date(on, "on"), actor, at).value;
          },
          py::arg("owner"), py::arg("kind"), py::arg("period"), py::arg("amount"), py::arg("hard"), py::arg("on"),
          py::arg("actor") = "amends", py::arg("at") = py::none())
      .def(
          "utilisation",
          [](const Desk& d, const std::string& owner, const std::string& kind, py::handle period) {
            return utilisation_dict(d.utilisation(owner, concessions::parse_kind(kind), to_period(period)));
          },
          py::arg("owner"), py::arg("kind"), py::arg("period"))
      .def("budgets",
           [](const Desk& d) {
             py::list out;
             for (const auto& u : d.budgets()) out.append(utilisation_dict(u));
             return out;
           })
      .def(
          "submit",
          [](Desk& d, const py::dict& content, requests::Timestamp at, bool submit, const std::string& id) {
            return record_dict(d, d.submit(content_of(content), at, submit, id));
          },
          py::arg("content"), py::arg("at"), py::arg("submit") = true, py::arg("id") = "")
      .def(
          "amend",
          [](Desk& d, const std::string& id, const py::dict& changes, const std::string& actor, requests::Timestamp at) {
            return record_dict(d, d.amend(id, changes_of(changes), actor, at));
          },
          py::arg("id"), py::arg("changes"), py::arg("actor"), py::arg("at"))
      .def(
          "resubmit",
          [](Desk& d, const std::string& id, const std::string& actor, requests::Timestamp at) {
            return record_dict(d, d.resubmit(id, actor, at));
          },
          py::arg("id"), py::arg("actor"), py::arg("at"))
      .def(
          "approve",
          [](Desk& d, const std::string& id, const std::string& person, requests::Timestamp at, const std::string& comment) {
            return record_dict(d, d.approve(id, person, at, comment));
          },
          py::arg("id"), py::arg("person"), py::arg("at"), py::arg("comment") = "")
      .def(
          "decline",
          [](Desk& d, const std::string& id, const std::string& person, requests::Timestamp at, const std::string& comment,
             std::vector<std::string> alternatives) {
            return record_dict(d, d.decline(id, person, at, comment, std::move(alternatives)));
          },
          py::arg("id"), py::arg("person"), py::arg("at"), py::arg("comment"), py::arg("alternatives") = std::vector<std::string>{})
      .def(
          "return_for_information",
          [](Desk& d, const std::string& id, const std::string& person, requests::Timestamp at, const std::string& comment) {
            return record_dict(d, d.return_for_information(id, person, at, comment));
          },
          py::arg("id"), py::arg("person"), py::arg("at"), py::arg("comment"))
      .def(
          "cancel",
          [](Desk& d, const std::string& id, const std::string& actor, requests::Timestamp at, const std::string& reason) {
            return record_dict(d, d.cancel(id, actor, at, reason));
          },
          py::arg("id"), py::arg("actor"), py::arg("at"), py::arg("reason"))
      .def(
          "expire",
          [](Desk& d, const std::string& id, requests::Timestamp at, const std::string& reason) {
            return record_dict(d, d.expire(id, at, reason));
          },
          py::arg("id"), py::arg("at"), py::arg("reason"))
      .def(
          "apply",
          [](Desk& d, const std::string& id, const std::string& actor, requests::Timestamp at) {
            return record_dict(d, d.apply(id, actor, at));
          },
          py::arg("id"), py::arg("actor"), py::arg("at"))
      .def(
          "approve_and_apply",
          [](Desk& d, const std::vector<std::tuple<std::string, std::string>>& approvals, const std::string& actor,
             requests::Timestamp at) {
            // For bulk work: each request approved by its person, then applied.
            for (const auto& [id, person] : approvals) {
              d.approve(id, person, at);
              if (d.get(id).state() == requests::State::approved) d.apply(id, actor, at);
            }
          },
          py::arg("approvals"), py::arg("actor"), py::arg("at"))
      .def(
          "reconcile",
          [](Desk& d, const std::string& id, const std::string& actor, requests::Timestamp at, const std::string& reference) {
            return record_dict(d, d.reconcile(id, actor, at, reference));
          },
          py::arg("id"), py::arg("actor"), py::arg("at"), py::arg("reference"))
      .def(
          "find_run",
          [](const Desk& d, const std::string& sha) -> py::object {
            const desk::ReconciliationRun* r = d.find_run(sha);
            if (!r) return py::none();
            return py::int_(r->id);
          },
          py::arg("inputs_sha256"))
      .def("runs",
           [](const Desk& d) {
             py::list out;
             for (const auto& r : d.runs()) {
               py::dict rd;
               rd["id"] = r.id;
               rd["source"] = r.source;
               rd["first"] = to_python(r.first);
               rd["last"] = to_python(r.last);
               rd["parameters"] = r.parameters;
               rd["inputs_sha256"] = r.inputs_sha256;
               rd["summary"] = r.summary;
               rd["exceptions"] = r.exceptions;
               rd["at"] = r.at;
               rd["actor"] = r.actor;
               out.append(rd);
             }
             return out;
           })
      .def("escalate_due", &Desk::escalate_due, py::arg("now"))
      .def(
          "close_period",
          [](Desk& d, py::handle period, const std::string& actor, requests::Timestamp at, bool accrue) {
            const desk::CloseReport r = d.close_period(to_period(period), actor, at, accrue);
            py::dict out;
            out["period"] = r.period.to_string();
            py::list posted;
            for (const auto& k : r.posted) {
              py::dict kd;
              kd["kind"] = k.kind;
              kd["count"] = k.count;
              kd["amount"] = to_python(k.amount, d.book().config().base_currency);
              posted.append(kd);
            }
            out["posted"] = posted;
            out["accrued"] = r.accrued;
            out["out_of_period"] = r.out_of_period;
            out["in_flight"] = r.in_flight;
            py::list budgets;
            for (const auto& u : r.budgets) budgets.append(utilisation_dict(u));
            out["budgets"] = budgets;
            out["text"] = r.text();
            return out;
          },
          py::arg("period"), py::arg("actor"), py::arg("at"), py::arg("accrue") = false)
      .def("get", [](const Desk& d, const std::string& id) { return record_dict(d, d.get(id)); }, py::arg("id"))
      .def("contains", &Desk::contains, py::arg("id"))
      .def(
          "ids",
          [](const Desk& d, const std::string& state) {
            std::vector<std::string> out;
            for (const auto& [id, r] : d.records())
              if (state.empty() || requests::to_string(r.state()) == state) out.push_back(id);
            return out;
          },
          py::arg("state") = "")
      .def(
          "pending_for", [](const Desk& d, const std::string& person, py::handle on) { return d.pending_for(person, to_date(on, "on")); },
          py::arg("person"), py::arg("on"))
      .def(
          "waiting_for",
          [](const Desk& d, const std::string& id, py::handle on) {
            const RequestRecord& r = d.get(id);
            return r.chain && r.state() == requests::State::pending_approval ? r.chain->waiting_for(to_date(on, "on"))
                                                                             : std::vector<std::string>{};
          },
          py::arg("id"), py::arg("on"))
      .def("explain", &Desk::explain, py::arg("id"))
      .def("check_records",
           [](const Desk& d) {
             py::list out;
             for (const auto& f : d.check_records()) {
               py::dict fd;
               fd["request"] = f.request;
               fd["problem"] = f.problem;
               out.append(fd);
             }
             return out;
           })
      .def("audit_events",
           [](const Desk& d) {
             std::vector<std::tuple<std::uint64_t, requests::Timestamp, std::string, std::string, std::string, std::string, std::string>> out;
             for (const auto& e : d.audit().events())
               out.emplace_back(e.sequence, e.at, e.actor, e.request, e.event, e.details, requests::to_hex(e.hash));
             return out;
           })
      .def("verify_audit",
           [](const Desk& d) {
             return verification_dict(requests::AuditTrail::verify(d.audit().events()), d.audit().events().size());
           })
      .def("outbox", [](const Desk& d) {
        py::list out;
        for (const auto& n : d.outbox()) {
          py::dict nd;
          nd["id"] = n.id;
          nd["request"] = n.request;
          nd["event"] = n.event;
          nd["customer"] = n.customer;
          nd["subject"] = n.subject;
          nd["body"] = n.body;
          nd["created_at"] = n.created_at;
          out.append(nd);
        }
        return out;
      });

  py::class_<store::DeskStore>(m, "_DeskStore", "Keeps a desk in step with its book in PostgreSQL.")
      .def(py::init([](store::Book& book, Desk& desk) {
             py::gil_scoped_release release;
             return std::make_unique<store::DeskStore>(book, desk);
           }),
           py::arg("store"), py::arg("desk"), py::keep_alive<1, 2>(), py::keep_alive<1, 3>());

  m.def(
      "verify_audit",
      [](const std::string& dsn, const std::string& book, const py::object& checkpoint, const py::object& key,
         bool records) {
        std::optional<checkpoint::Checkpoint> cp;
        if (!checkpoint.is_none()) {
          if (key.is_none()) throw invalid_argument("verifying against a checkpoint needs the key it was signed with");
          cp = checkpoint_of(checkpoint.cast<py::dict>());
          checkpoint::check(*cp, key.cast<std::string>(), checkpoint["signature"].cast<std::string>());
        }
        std::size_t events = 0;
        store::AuditVerification v;
        {
          py::gil_scoped_release release;
          v = store::verify_audit(dsn, book, &events, cp ? &*cp : nullptr, records);
        }
        py::dict d = verification_dict(v, events);
        d["kind"] = v.kind;
        d["last_hash"] = v.events ? py::object(py::str(requests::to_hex(v.last_hash))) : py::object(py::none());
        d["head"] = v.head ? py::object(py::int_(v.head)) : py::object(py::none());
        d["anchored"] = v.anchored;
        d["checkpoint"] = v.checkpoint ? py::object(py::int_(v.checkpoint)) : py::object(py::none());
        if (records) {
          py::list findings;
          for (const auto& f : v.findings) {
            py::dict fd;
            fd["request"] = f.request;
            fd["problem"] = f.problem;
            findings.append(fd);
          }
          d["findings"] = findings;
        }
        return d;
      },
      py::arg("dsn"), py::arg("book"), py::arg("checkpoint") = py::none(), py::arg("key") = py::none(),
      py::arg("records") = false,
      "Reads a book's audit trail afresh from PostgreSQL and verifies its hash chain, its head and its request "
      "anchors; given a checkpoint (whose signature must verify under key), that the event it names still has its hash; "
      "with records, when it verifies, also checks every request record (findings).");
  m.def(
      "sign_checkpoint",
      [](const py::dict& checkpoint, const py::bytes& key) { return checkpoint::sign(checkpoint_of(checkpoint, false), std::string(key)); },
      py::arg("checkpoint"), py::arg("key"),
      "The HMAC-SHA256 signature (hex) of a checkpoint {book, seq, hash, at_micros} under key.");
  m.def(
      "check_checkpoint",
      [](const py::dict& checkpoint, const py::bytes& key) {
        checkpoint::check(checkpoint_of(checkpoint), std::string(key), checkpoint["signature"].cast<std::string>());
      },
      py::arg("checkpoint"), py::arg("key"), "Raises InvalidArgument unless the checkpoint's signature verifies under key.");
}

}  // namespace amends::python
