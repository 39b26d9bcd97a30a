// The one rooted exception tree of the core. User and data errors are typed
// exceptions whose message says what to fix; broken invariants (programmer
// errors) are AMENDS_ASSERT failures, which stay on in release builds.
#pragma once

#include <cstdio>
#include <cstdlib>
#include <stdexcept>
#include <string>

namespace amends {

class error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// Malformed text: an amount, date, period or currency code that does not parse.
class parse_error : public error { using error::error; };
// Arithmetic that would leave the exact range; never wraps.
class overflow_error : public error { using error::error; };
// A value outside what the operation accepts (negative weight, zero divisor, ...).
class invalid_argument : public error { using error::error; };
class unknown_currency : public error { using error::error; };
class currency_mismatch : public error { using error::error; };
// An amount finer than its currency's minor unit (e.g. 0.001 USD).
class amount_too_precise : public error { using error::error; };

// Ledger rules.
class invalid_entry : public error { using error::error; };
class unbalanced_entry : public invalid_entry { using invalid_entry::invalid_entry; };
class unknown_account : public error { using error::error; };
class account_closed : public error { using error::error; };
class account_exists : public error { using error::error; };
class period_closed : public error { using error::error; };
class period_locked : public error { using error::error; };
class invalid_period_transition : public error { using error::error; };
class balance_limit_exceeded : public error { using error::error; };
class idempotency_conflict : public error { using error::error; };
class entry_not_found : public error { using error::error; };
class already_reversed : public error { using error::error; };
class pending_state_error : public error { using error::error; };
class batch_too_large : public error { using error::error; };
class io_error : public error { using error::error; };
// The PostgreSQL store: no connection, a lost connection, a database
// refusing what the core accepted. Nothing is left half-written.
class store_error : public error { using error::error; };
// The database's schema is newer than this amends knows, or not amends'.
class schema_error : public store_error { using store_error::store_error; };

// An action the authenticated login may not take: a book's write by a login
// bound to no person of it, the service's on-behalf setting used by another
// login, people managed by a login that is not an admin, a caller-chosen
// clock in a book that keeps the database's.
class not_authorised : public error { using error::error; };
// An action taken in someone else's name: the actor given is not the person
// the login is bound to.
class impersonation : public not_authorised { using not_authorised::not_authorised; };

// Text that no back end can keep: a NUL byte (PostgreSQL's text refuses it,
// so the in-memory ledger refuses it too, the same way).
class invalid_text : public invalid_argument { using invalid_argument::invalid_argument; };

// A person's name that names nobody: not UTF-8, a control character in it,
// or nothing left once spaces and invisible characters are removed (see
// amends/names.hpp).
class invalid_name : public invalid_argument { using invalid_argument::invalid_argument; };

// Refuses `value` when it holds a NUL byte, naming `field` ("description",
// "metadata key", "customer id", ...) and the byte's position.
inline void check_text(const char* field, const std::string& value) {
  const std::size_t at = value.find('\0');
  if (at != std::string::npos)
    throw invalid_text(std::string(field) + " has a NUL byte at position " + std::to_string(at) +
                       "; text can't carry one: remove it");
}

[[noreturn]] inline void assertion_failed(const char* expression, const char* file, int line) {
  std::fprintf(stderr, "amends: invariant broken: %s (%s:%d)\n", expression, file, line);
  std::abort();
}

}  // namespace amends

// An invariant of the program itself; on in every build type.
#define AMENDS_ASSERT(expression) \
  ((expression) ? static_cast<void>(0) : ::amends::assertion_failed(#expression, __FILE__, __LINE__))
