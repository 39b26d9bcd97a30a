// amends._core.Store: a book in PostgreSQL, mirrored into an amends.Ledger.
#include "amends/store.hpp"

#include <map>
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
      "Applies the schema migrations the database lacks; returns the versions applied.");

  m.def(
      "read_postings",
      [](const std::string& dsn, const std::string& book) {
        store::PostingColumns c;
        {
          py::gil_scoped_release release;
          c = store::read_postings(dsn, book);
        }
        const auto rows = static_cast<py::ssize_t>(c.entry_id.size());
        py::array_t<std::int64_t> entry_ids(rows, c.entry_id.data());
        py::array_t<std::int32_t> status_codes(rows);
        py::array_t<std::int32_t> account_codes(rows), currency_codes(rows);
        py::object empty = py::module_::import("numpy").attr("empty");
        py::array dates(empty(rows, "O")), amounts(empty(rows, "O"));  // filled with None
        auto put = [](py::array& column, py::ssize_t row, const py::object& value) {
          PyObject** slot = static_cast<PyObject**>(column.mutable_data()) + row;
          Py_XDECREF(*slot);
          *slot = value.inc_ref().ptr();
        };
        py::list account_names, currency_names, status_names;
        std::vector<std::int32_t> name_of(c.account_names.size()), currency_of(c.account_names.size());
        std::map<std::string_view, std::int32_t> names, currencies;
        for (std::size_t i = 0; i < c.account_names.size(); ++i) {
          auto [n, new_name] = names.emplace(c.account_names[i], static_cast<std::int32_t>(names.size()));
          if (new_name) account_names.append(c.account_names[i]);
          name_of[i] = n->second;
          auto [k, new_code] = currencies.emplace(c.account_currency[i].code(), static_cast<std::int32_t>(currencies.size()));
          if (new_code) currency_names.append(std::string(c.account_currency[i].code()));
          currency_of[i] = k->second;
        }
        for (EntryStatus status : {EntryStatus::posted, EntryStatus::pending, EntryStatus::pending_posted,
                                   EntryStatus::pending_voided, EntryStatus::pending_expired})
          status_names.append(std::string(to_string(status)));
        std::unordered_map<std::int32_t, py::object> date_cache;
        const py::object decimal = decimal_class();
        // Amount objects by (minor digits, minor units): open addressing,
        // a tenth of the cost of std::unordered_map on a quarter-million keys.
        struct AmountSlot {
          std::int64_t minor = 0;
          int places = -1;
          py::object value;
        };
        std::vector<AmountSlot> amount_slots(1U << 12);
        std::size_t amount_used = 0;
        auto amount_slot = [&](int places, std::int64_t minor) -> py::object& {
          if (2 * (amount_used + 1) > amount_slots.size()) {
            std::vector<AmountSlot> bigger(amount_slots.size() * 2);
            for (AmountSlot& old : amount_slots) {
              if (old.places < 0) continue;
              std::size_t at = std::hash<std::int64_t>{}(old.minor * 5 + old.places) * 0x9e3779b97f4a7c15ULL;
              for (at &= bigger.size() - 1; bigger[at].places >= 0; at = (at + 1) & (bigger.size() - 1)) {
              }
              bigger[at] = std::move(old);
            }
            amount_slots.swap(bigger);
          }
          std::size_t at = std::hash<std::int64_t>{}(minor * 5 + places) * 0x9e3779b97f4a7c15ULL;
          for (at &= amount_slots.size() - 1;; at = (at + 1) & (amount_slots.size() - 1)) {
            AmountSlot& slot = amount_slots[at];
            if (slot.places == places && slot.minor == minor) return slot.value;
            if (slot.places < 0) {
              slot.places = places;
              slot.minor = minor;
              ++amount_used;
              return slot.value;
            }
          }
        };
        auto* accounts = account_codes.mutable_data();
        auto* codes = currency_codes.mutable_data();
        auto* statuses = status_codes.mutable_data();
        for (py::ssize_t row = 0; row < rows; ++row) {
          const auto i = static_cast<std::size_t>(row);
          const auto a = static_cast<std::size_t>(c.account[i]);
          py::object& date = date_cache[c.day[i]];
          if (!date) date = to_python(Date::from_days(c.day[i]));
          const Currency currency = c.account_currency[a];
          py::object& amount = amount_slot(currency.minor_units(), c.amount_minor[i]);
          if (!amount) {
            // decimal.Decimal("123.45"), called through the C API.
            const std::string text = Decimal::from_scaled(c.amount_minor[i], currency.minor_units()).to_string(currency.minor_units());
            PyObject* arg = PyUnicode_FromStringAndSize(text.data(), static_cast<Py_ssize_t>(text.size()));
            if (!arg) throw py::error_already_set();
            PyObject* made = PyObject_CallOneArg(decimal.ptr(), arg);
            Py_DECREF(arg);
            if (!made) throw py::error_already_set();
            amount = py::reinterpret_steal<py::object>(made);
          }
          put(dates, row, date);
          put(amounts, row, amount);
          accounts[row] = name_of[a];
          codes[row] = currency_of[a];
          statuses[row] = c.status[i];
        }
        py::dict out;
        out["entry_id"] = entry_ids;
        out["date"] = dates;
        out["account_codes"] = account_codes;
        out["account_names"] = account_names;
        out["amount"] = amounts;
        out["currency_codes"] = currency_codes;
        out["currency_names"] = currency_names;
        out["status_codes"] = status_codes;
        out["status_names"] = status_names;
        return out;
      },
      py::arg("dsn"), py::arg("book"),
      "Every posting of a book, read by COPY into columns (the shape of Ledger._postings).");

  py::class_<Book>(m, "Store", "A book in PostgreSQL; amends.open() wraps it.")
      .def(py::init([](const std::string& dsn, const std::string& name, py::handle base_currency,
                       unsigned fiscal_year_start_month, bool create_if_missing, bool use_app_role) {
             store::BookOptions options;
             options.name = name;
             options.base_currency = to_currency(base_currency);
             options.fiscal_year_start_month = fiscal_year_start_month;
             options.create_if_missing = create_if_missing;
             options.use_app_role = use_app_role;
             py::gil_scoped_release release;
             return std::make_unique<Book>(dsn, std::move(options));
           }),
           py::arg("dsn"), py::arg("name") = "main", py::arg("base_currency") = "USD",
           py::arg("fiscal_year_start_month") = 1, py::arg("create_if_missing") = true, py::arg("use_app_role") = true)
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
