// amends._core.Store: a book in PostgreSQL, mirrored into an amends.Ledger.
#include "amends/store.hpp"

#include <map>
#include <optional>
#include <unordered_map>

#include <pybind11/numpy.h>
#include <pybind11/stl.h>

#include "convert.hpp"

namespace amends::python {

void register_store(py::module_& m) {
  using store::Book;
  m.attr("SCHEMA_VERSION") = store::schema_version();
  m.def(
      "migrate", [](const std::string& dsn) { return store::migrate(dsn); }, py::arg("dsn"),
      "Applies the schema migrations the database lacks, as its owner; returns the versions applied.");

  m.def(
      "read_postings",
      [](const std::string& dsn, const std::string& book) {
        PostingColumns c;
        {
          py::gil_scoped_release release;
          c = store::read_postings(dsn, book);
        }
        return posting_columns_to_python(c);
      },
      py::arg("dsn"), py::arg("book"),
      "Every posting of a book, read by COPY into columns (the shape of Ledger._postings).");

  py::class_<Book>(m, "Store", "A book in PostgreSQL; amends.open() wraps it.")
      .def(py::init([](const std::string& dsn, const std::string& name, py::handle base_currency,
                       unsigned fiscal_year_start_month, bool create_if_missing, bool use_app_role,
                       std::optional<bool> simulation, const std::string& first_person, const std::string& on_behalf_of) {
             store::BookOptions options;
             options.simulation = simulation;
             options.first_person = first_person;
             options.on_behalf_of = on_behalf_of;
             options.name = name;
             options.base_currency = to_currency(base_currency);
             options.fiscal_year_start_month = fiscal_year_start_month;
             options.create_if_missing = create_if_missing;
             options.use_app_role = use_app_role;
             py::gil_scoped_release release;
             return std::make_unique<Book>(dsn, std::move(options));
           }),
           py::arg("dsn"), py::arg("name") = "main", py::arg("base_currency") = "USD",
           py::arg("fiscal_year_start_month") = 1, py::arg("create_if_missing") = true, py::arg("use_app_role") = true,
           py::arg("simulation") = py::none(), py::arg("first_person") = "", py::arg("on_behalf_of") = "")
      .def_property_readonly("simulation", [](const Book& b) { return b.info().simulation; })
      .def_property_readonly("login", [](const Book& b) { return b.identity().login; })
      .def_property_readonly("service", [](const Book& b) { return b.identity().service; })
      .def_property_readonly("person", [](const Book& b) -> py::object {
        const auto& p = b.identity().person;
        return p ? py::object(py::str(*p)) : py::object(py::none());
      })
      .def("write_time", &Book::write_time, "Inside a write: its time by the database's clock, in microseconds since 1970.")
      .def(
          "people",
          [](Book& b) {
            std::vector<Book::Person> people;
            {
              py::gil_scoped_release release;
              people = b.people();
            }
            py::list out;
            for (const Book::Person& p : people) {
              py::dict d;
              d["person"] = p.person;
              d["display_name"] = p.display_name;
              d["roles"] = p.roles;
              d["teams"] = p.teams;
              d["active"] = p.active;
              d["logins"] = p.logins;
              out.append(d);
            }
            return out;
          },
          "The people of the book, with the logins bound to each.")
      .def(
          "add_person",
          [](Book& b, const std::string& name, const std::string& display_name, const std::vector<std::string>& roles,
             const std::vector<std::string>& teams, bool active, const std::string& login) {
            py::gil_scoped_release release;
            b.add_person(name, display_name, roles, teams, active, login);
          },
          py::arg("name"), py::arg("display_name") = "", py::arg("roles") = std::vector<std::string>{},
          py::arg("teams") = std::vector<std::string>{}, py::arg("active") = true, py::arg("login") = "",
          "Adds a person to the book or changes one (an admin's; audited); with login, binds it to them.")
      .def(
          "bind_login",
          [](Book& b, const std::string& login, const std::string& person) {
            py::gil_scoped_release release;
            b.bind_login(login, person);
          },
          py::arg("login"), py::arg("person"), "Binds a login to a person of the book (an admin's; audited).")
      .def_property_readonly("book_id", [](const Book& b) { return b.info().id; })
      .def_property_readonly("name", [](const Book& b) { return b.info().name; })
      .def_property_readonly("base_currency", [](const Book& b) { return std::string(b.info().base_currency.code()); })
      .def_property_readonly("fiscal_year_start_month", [](const Book& b) { return b.info().fiscal_year_start_month; })
      .def_property_readonly("version", &Book::version)
      .def_property_readonly("in_write", &Book::in_write)
      .def(
          "attach", [](Book& b, Ledger& mirror) { b.attach(mirror); }, py::arg("ledger"),
          "Loads the book into an empty ledger, which it then keeps in step; the ledger must outlive the store "
          "(amends.Book holds its store).")
      .def("close", &Book::close, "Closes the connection; the next operation opens a new one.")
      .def(
          "sync",
          [](Book& b) {
            py::gil_scoped_release release;
            b.sync();
          },
          "Catches the ledger up with what other sessions committed.")
      .def(
          "write",
          [](Book& b, const std::string& operation, py::function op) {
            // The database waits (locks, fsync) happen without the GIL, so
            // other Python threads run meanwhile; op() runs with it.
            py::object result = py::none();
            {
              py::gil_scoped_release release;
              b.write(operation, [&] {
                py::gil_scoped_acquire acquire;
                result = op();
              });
            }
            return result;
          },
          py::arg("operation"), py::arg("op"),
          "Runs op() on the ledger in one write transaction and writes what it changed.")
      .def(
          "reload",
          [](Book& b) {
            py::gil_scoped_release release;
            b.reload();
          },
          "Reloads the ledger from the database.")
      .def(
          "_simulate_connection_loss_at_commit", &Book::simulate_connection_loss_at_commit, py::arg("after_commit_sent"),
          "Test hook: the next commit loses its connection, before or after COMMIT is sent.");
}

}  // namespace amends::python
