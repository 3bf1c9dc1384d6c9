#pragma once
// The core's UTF-8 strings as Qt text.
#include <QString>

#include <string_view>

namespace dpo::studio {

inline QString qstr(std::string_view s) {
  return QString::fromUtf8(s.data(), static_cast<qsizetype>(s.size()));
}

}  // namespace dpo::studio
