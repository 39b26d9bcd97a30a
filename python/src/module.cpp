// amends._core: wires the submodules; each area registers itself.
#include "convert.hpp"

PYBIND11_MODULE(_core, m) {
  m.doc() = "The compiled core of amends. Import amends, not this module.";
  m.attr("__version__") = AMENDS_VERSION;
  amends::python::register_errors(m);
  amends::python::register_money(m);
  amends::python::register_calendar(m);
  amends::python::register_ledger(m);
  amends::python::register_store(m);
  amends::python::register_policy(m);
  amends::python::register_desk(m);
  amends::python::register_reconcile(m);
  amends::python::register_names(m);
}
