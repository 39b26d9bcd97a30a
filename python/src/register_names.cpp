// People's names: the comparison key of amends/names.hpp (amends.names wraps it).
#include "amends/names.hpp"
#include "convert.hpp"

namespace amends::python {

namespace {

// A str as UTF-8 bytes. A lone surrogate (which str allows and UTF-8 does not)
// crosses as the bytes of its surrogate encoding, which the core refuses as
// not UTF-8 with InvalidName, instead of a UnicodeEncodeError here.
std::string name_bytes(py::handle value, const char* what) {
  if (!PyUnicode_Check(value.ptr()))
    throw py::type_error(std::string(what) + " must be a str, not " + std::string(Py_TYPE(value.ptr())->tp_name));
  py::object encoded = py::reinterpret_steal<py::object>(PyUnicode_AsEncodedString(value.ptr(), "utf-8", "surrogatepass"));
  if (!encoded) throw py::error_already_set();
  return std::string(PyBytes_AS_STRING(encoded.ptr()), static_cast<std::size_t>(PyBytes_GET_SIZE(encoded.ptr())));
}

}  // namespace

void register_names(py::module_& m) {
  m.def("normalise_name", [](py::handle name) { return names::normalise(name_bytes(name, "a name")); }, py::arg("name"),
        "The comparison key of a person's name: NFKC with case folding, invisible characters removed, surrounding "
        "whitespace trimmed and inner runs collapsed to one space. Raises InvalidName for a name that is not one.");
  m.def("same_person",
        [](py::handle a, py::handle b) { return names::same_person(name_bytes(a, "a name"), name_bytes(b, "a name")); },
        py::arg("a"), py::arg("b"), "Whether two names are the same person (their keys are equal).");
}

}  // namespace amends::python
