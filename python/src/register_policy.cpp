// amends._core: the approval policy (routing) and the approval chain.
#include <pybind11/stl.h>

#include "amends/approvals.hpp"
#include "amends/policy.hpp"
#include "convert.hpp"

namespace amends::python {

namespace {

py::dict route_record(const policy::Route& r) {
  py::list steps;
  for (const policy::Step& s : r.steps) {
    py::dict step;
    step["all_of"] = s.all_of;
    step["roles"] = s.roles;
    step["escalate_after_hours"] = s.escalate_after_hours ? py::object(py::int_(*s.escalate_after_hours)) : py::none();
    step["escalate_to"] = s.escalate_to.empty() ? py::object(py::none()) : py::object(py::str(s.escalate_to));
    steps.append(step);
  }
  py::dict out;
  out["policy_version"] = r.policy_version;
  out["outcome"] = std::string(policy::to_string(r.outcome));
  out["rule"] = r.rule.empty() ? py::object(py::none()) : py::object(py::str(r.rule));
  out["steps"] = steps;
  out["reason"] = r.reason.empty() ? py::object(py::none()) : py::object(py::str(r.reason));
  out["explanation"] = r.explanation;
  return out;
}

policy::RouteInput route_input(const std::string& kind, py::handle amount, const std::string& tier,
                               const std::vector<std::string>& exceptions) {
  policy::RouteInput in;
  in.kind = concessions::parse_kind(kind);
  in.amount = to_decimal(amount);
  in.tier = tier;
  in.exception_codes = exceptions;
  in.has_exception = !exceptions.empty();
  return in;
}

}  // namespace

void register_policy(py::module_& m) {
  static PyObject* policy_error_class = nullptr;
  static PyObject* approval_error_class = nullptr;
  py::object amends_error = m.attr("AmendsError");
  policy_error_class = PyErr_NewExceptionWithDoc("amends.PolicyError", "A policy file that does not parse or hold together.",
                                                 amends_error.ptr(), nullptr);
  m.add_object("PolicyError", py::reinterpret_borrow<py::object>(policy_error_class));
  approval_error_class = PyErr_NewExceptionWithDoc(
      "amends.ApprovalError", "An approval the chain refuses: not the person's to give, or against separation of duties.",
      amends_error.ptr(), nullptr);
  m.add_object("ApprovalError", py::reinterpret_borrow<py::object>(approval_error_class));
  py::register_exception_translator([](std::exception_ptr failure) {
    try {
      if (failure) std::rethrow_exception(failure);
    } catch (const policy::policy_error& e) {
      PyErr_SetString(policy_error_class, e.what());
    } catch (const approvals::approval_error& e) {
      PyErr_SetString(approval_error_class, e.what());
    }
  });

  py::class_<policy::Policy>(m, "_Policy", "An approval policy (amends.Policy wraps it).")
      .def_static("parse", &policy::Policy::parse, py::arg("text"))
      .def_static("load", &policy::Policy::load, py::arg("path"))
      .def_static(
          "check",
          [](const std::string& text) {
            py::list out;
            for (const policy::Problem& problem : policy::Policy::check(text)) {
              py::dict d;
              d["line"] = problem.line;
              d["column"] = problem.column;
              d["where"] = problem.where;
              d["message"] = problem.message;
              out.append(d);
            }
            return out;
          },
          py::arg("text"))
      .def_property_readonly("version", [](const policy::Policy& p) { return p.version; })
      .def_property_readonly("base_currency", [](const policy::Policy& p) { return std::string(p.base_currency.code()); })
      .def_property_readonly("rule_names",
                             [](const policy::Policy& p) {
                               std::vector<std::string> names;
                               for (const policy::Rule& r : p.rules) names.push_back(r.name);
                               return names;
                             })
      .def(
          "people_for", [](const policy::Policy& p, const std::string& role, py::handle on) {
            return p.people_for(role, to_date(on, "on"));
          },
          py::arg("role"), py::arg("on"))
      .def(
          "route",
          [](const policy::Policy& p, const std::string& kind, py::handle amount, const std::string& tier,
             const std::vector<std::string>& exceptions) {
            return route_record(policy::route(p, route_input(kind, amount, tier, exceptions)));
          },
          py::arg("kind"), py::arg("amount"), py::arg("tier"), py::arg("exceptions") = std::vector<std::string>{});

  py::class_<approvals::ApprovalChain>(m, "_ApprovalChain", "The approval chain of one routed request.")
      .def(py::init([](const policy::Policy& p, const std::string& kind, py::handle amount, const std::string& tier,
                       const std::vector<std::string>& exceptions, const std::string& requester,
                       requests::Timestamp started_at) {
             const policy::Route r = policy::route(p, route_input(kind, amount, tier, exceptions));
             return std::make_unique<approvals::ApprovalChain>(p, r, requester, started_at);
           }),
           py::arg("policy"), py::arg("kind"), py::arg("amount"), py::arg("tier"), py::arg("exceptions"),
           py::arg("requester"), py::arg("started_at"), py::keep_alive<1, 2>())
      .def(
          "approve",
          [](approvals::ApprovalChain& c, const std::string& person, py::handle on, requests::Timestamp at,
             const std::string& comment) { return c.approve(person, to_date(on, "on"), at, comment); },
          py::arg("person"), py::arg("on"), py::arg("at"), py::arg("comment") = "")
      .def_property_readonly("complete", &approvals::ApprovalChain::complete)
      .def_property_readonly("current_step", &approvals::ApprovalChain::current_step)
      .def(
          "waiting_for", [](const approvals::ApprovalChain& c, py::handle on) { return c.waiting_for(to_date(on, "on")); },
          py::arg("on"))
      .def(
          "escalate_due",
          [](approvals::ApprovalChain& c, requests::Timestamp now) {
            std::vector<std::pair<std::size_t, std::string>> out;
            for (const approvals::Escalation& e : c.escalate_due(now)) out.emplace_back(e.step, e.to_role);
            return out;
          },
          py::arg("now"))
      .def("approvals", [](const approvals::ApprovalChain& c) {
        std::vector<std::vector<std::tuple<std::string, std::string, requests::Timestamp, std::string, bool>>> out;
        for (const approvals::StepState& s : c.steps()) {
          out.emplace_back();
          for (const approvals::Approval& a : s.approvals)
            out.back().emplace_back(a.person, a.role, a.at, a.comment, a.as_delegate);
        }
        return out;
      });
}

}  // namespace amends::python
