// Period and FiscalCalendar.
#include <pybind11/operators.h>
#include <pybind11/stl.h>

#include "convert.hpp"

namespace amends::python {

void register_calendar(py::module_& m) {
  py::class_<Period>(m, "Period", "A calendar month used as a posting period, e.g. Period(\"2026-11\").")
      .def(py::init([](py::handle value) { return to_period(value); }), py::arg("period"))
      .def(py::init([](int year, unsigned month) { return Period(year, month); }), py::arg("year"), py::arg("month"))
      .def_static("of", [](py::handle day) { return Period::of(to_date(day)); }, py::arg("date"),
                  "The period containing a date.")
      .def_property_readonly("year", &Period::year)
      .def_property_readonly("month", &Period::month)
      .def_property_readonly("first_day", [](const Period& p) { return to_python(p.first_day()); })
      .def_property_readonly("last_day", [](const Period& p) { return to_python(p.last_day()); })
      .def("contains", [](const Period& p, py::handle day) { return p.contains(to_date(day)); }, py::arg("date"))
      .def("next", &Period::next)
      .def("previous", &Period::previous)
      .def("__add__", [](const Period& p, std::int32_t months) { return p.plus_months(months); }, py::is_operator())
      .def("__sub__", [](const Period& p, std::int32_t months) { return p.plus_months(-months); }, py::is_operator())
      .def("__sub__", [](const Period& a, const Period& b) { return a - b; }, py::is_operator())
      .def(py::self == py::self)
      .def(py::self != py::self)
      .def(py::self < py::self)
      .def(py::self <= py::self)
      .def(py::self > py::self)
      .def(py::self >= py::self)
      .def("__hash__", [](const Period& p) { return std::hash<std::int32_t>()(p.index()); })
      .def("__str__", &Period::to_string)
      .def("__repr__", [](const Period& p) { return "Period('" + p.to_string() + "')"; })
      .def_static("range", [](py::handle first, py::handle last) { return period_range(to_period(first), to_period(last)); },
                  py::arg("first"), py::arg("last"), "Every period from first to last, inclusive.");


  py::class_<FiscalCalendar>(m, "FiscalCalendar",
                             "Fiscal years of twelve periods from start_month, named by the calendar year they end in.")
      .def(py::init<unsigned>(), py::arg("start_month") = 1)
      .def_property_readonly("start_month", &FiscalCalendar::start_month)
      .def("fiscal_year", [](const FiscalCalendar& c, py::handle p) { return c.fiscal_year(to_period(p)); }, py::arg("period"))
      .def("fiscal_quarter", [](const FiscalCalendar& c, py::handle p) { return c.fiscal_quarter(to_period(p)); },
           py::arg("period"))
      .def("fiscal_month", [](const FiscalCalendar& c, py::handle p) { return c.fiscal_month(to_period(p)); }, py::arg("period"))
      .def("periods", &FiscalCalendar::periods, py::arg("fiscal_year"))
      .def("quarter_periods", &FiscalCalendar::quarter_periods, py::arg("fiscal_year"), py::arg("quarter"))
      .def("quarter_label", [](const FiscalCalendar& c, py::handle p) { return c.quarter_label(to_period(p)); },
           py::arg("period"));
}

}  // namespace amends::python
