// The executable specification of the reconciliation passes (see reconcile_spec.cpp).
#pragma once

#include "amends/reconcile.hpp"

namespace amends::reconcile::spec {

Result match(const Items& ledger, const Items& billing, const Options& options = {});

}  // namespace amends::reconcile::spec
