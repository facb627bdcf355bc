#include "domain/time.h"

#include <string>

namespace orderflow::domain {

namespace {

constexpr int64_t ms_per_second = 1000;
constexpr int64_t ms_per_minute = 60 * ms_per_second;
constexpr int64_t ms_per_hour = 60 * ms_per_minute;
constexpr int64_t ms_per_day = 24 * ms_per_hour;

struct CivilDate {
  int64_t year;
  int month;  // 1..12
  int day;    // 1..31
};

// Howard Hinnant's days_from_civil / civil_from_days: exact for the proleptic Gregorian
// calendar over the whole int64 day range we can reach from int64 milliseconds.
int64_t days_from_civil(CivilDate date) {
  const int64_t y = date.year - (date.month <= 2 ? 1 : 0);
  const int64_t era = (y >= 0 ? y : y - 399) / 400;
  const int64_t year_of_era = y - era * 400;
  const int64_t day_of_year = (153 * (date.month + (date.month > 2 ? -3 : 9)) + 2) / 5 + date.day - 1;
  const int64_t day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
  return era * 146097 + day_of_era - 719468;
}

CivilDate civil_from_days(int64_t days) {
  days += 719468;
  const int64_t era = (days >= 0 ? days : days - 146096) / 146097;
  const int64_t day_of_era = days - era * 146097;
  const int64_t year_of_era =
      (day_of_era - day_of_era / 1460 + day_of_era / 36524 - day_of_era / 146096) / 365;
  const int64_t day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
  const int64_t mp = (5 * day_of_year + 2) / 153;
  const int day = static_cast<int>(day_of_year - (153 * mp + 2) / 5 + 1);
  const int month = static_cast<int>(mp < 10 ? mp + 3 : mp - 9);
  return {year_of_era + era * 400 + (month <= 2 ? 1 : 0), month, day};
}

bool is_leap_year(int64_t year) {
  return year % 4 == 0 && (year % 100 != 0 || year % 400 == 0);
}

int days_in_month(int64_t year, int month) {
  constexpr int days[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  return month == 2 && is_leap_year(year) ? 29 : days[month - 1];
}

int64_t floor_div(int64_t a, int64_t b) {
  return a / b - ((a % b != 0) && ((a < 0) != (b < 0)) ? 1 : 0);
}

// A cursor over the text; every read either consumes exactly what it promises or fails.
class Reader {
 public:
  explicit Reader(std::string_view text) : text_(text) {}
  bool done() const { return pos_ == text_.size(); }
  bool peek(char c) const { return pos_ < text_.size() && text_[pos_] == c; }
  bool consume(char c) {
    if (!peek(c)) return false;
    ++pos_;
    return true;
  }
  // Exactly `count` decimal digits.
  bool digits(std::size_t count, int64_t& out) {
    if (text_.size() - pos_ < count) return false;
    out = 0;
    for (std::size_t i = 0; i < count; ++i) {
      const char c = text_[pos_ + i];
      if (c < '0' || c > '9') return false;
      out = out * 10 + (c - '0');
    }
    pos_ += count;
    return true;
  }
  // One or more digits (at most 9); returns the first three as milliseconds.
  bool fraction_ms(int64_t& out) {
    std::size_t count = 0;
    out = 0;
    while (pos_ < text_.size() && text_[pos_] >= '0' && text_[pos_] <= '9') {
      if (count < 3) out = out * 10 + (text_[pos_] - '0');
      ++count;
      ++pos_;
    }
    if (count == 0 || count > 9) return false;
    for (std::size_t i = count; i < 3; ++i) out *= 10;
    return true;
  }

 private:
  std::string_view text_;
  std::size_t pos_ = 0;
};

}  // namespace

namespace {
// `value` (>= 0) as exactly `width` decimal digits, the leading ones zero (value < 10^width).
char* put_digits(char* out, int64_t value, int width) {
  for (int i = width - 1; i >= 0; --i) {
    out[i] = static_cast<char>('0' + value % 10);
    value /= 10;
  }
  return out + width;
}
}  // namespace

void append_iso8601(std::string& out, TimestampMs at_ms) {
  // Written digit by digit: the view rows of a rebuild print two instants per order.
  const int64_t days = floor_div(at_ms, ms_per_day);
  const int64_t ms_of_day = at_ms - days * ms_per_day;
  const CivilDate date = civil_from_days(days);
  char buf[40];
  char* p = buf;
  if (date.year >= 0 && date.year <= 9999) {
    p = put_digits(p, date.year, 4);
  } else {
    // At least six digits, as JavaScript prints them; int64 ms reach ~292 million years (9).
    const int64_t magnitude = date.year < 0 ? -date.year : date.year;
    *p++ = date.year < 0 ? '-' : '+';
    int width = 6;
    for (int64_t v = magnitude / 1'000'000; v > 0; v /= 10) ++width;
    p = put_digits(p, magnitude, width);
  }
  *p++ = '-';
  p = put_digits(p, date.month, 2);
  *p++ = '-';
  p = put_digits(p, date.day, 2);
  *p++ = 'T';
  p = put_digits(p, ms_of_day / ms_per_hour, 2);
  *p++ = ':';
  p = put_digits(p, ms_of_day % ms_per_hour / ms_per_minute, 2);
  *p++ = ':';
  p = put_digits(p, ms_of_day % ms_per_minute / ms_per_second, 2);
  *p++ = '.';
  p = put_digits(p, ms_of_day % ms_per_second, 3);
  *p++ = 'Z';
  out.append(buf, static_cast<size_t>(p - buf));
}

std::string format_iso8601(TimestampMs at_ms) {
  std::string out;
  append_iso8601(out, at_ms);
  return out;
}

std::optional<TimestampMs> parse_iso8601(std::string_view text) {
  Reader in(text);
  int64_t year = 0, month = 0, day = 0;
  if (!in.digits(4, year) || !in.consume('-') || !in.digits(2, month) || !in.consume('-') ||
      !in.digits(2, day)) {
    return std::nullopt;
  }
  if (month < 1 || month > 12 || day < 1 || day > days_in_month(year, static_cast<int>(month))) {
    return std::nullopt;
  }
  const int64_t midnight_ms =
      days_from_civil({year, static_cast<int>(month), static_cast<int>(day)}) * ms_per_day;
  if (in.done()) return midnight_ms;

  int64_t hour = 0, minute = 0, second = 0, millis = 0;
  if (!in.consume('T') || !in.digits(2, hour) || !in.consume(':') || !in.digits(2, minute))
    return std::nullopt;
  if (in.consume(':')) {
    if (!in.digits(2, second)) return std::nullopt;
    if (in.consume('.') && !in.fraction_ms(millis)) return std::nullopt;
  }
  if (hour > 23 || minute > 59 || second > 59) return std::nullopt;

  int64_t offset_ms = 0;
  if (!in.consume('Z')) {
    const bool ahead = in.peek('+');
    if (!in.consume('+') && !in.consume('-')) return std::nullopt;
    int64_t offset_hours = 0, offset_minutes = 0;
    if (!in.digits(2, offset_hours) || !in.consume(':') || !in.digits(2, offset_minutes)) return std::nullopt;
    if (offset_hours > 23 || offset_minutes > 59) return std::nullopt;
    offset_ms = (offset_hours * ms_per_hour + offset_minutes * ms_per_minute) * (ahead ? 1 : -1);
  }
  if (!in.done()) return std::nullopt;
  // A local time ahead of UTC is a smaller UTC instant.
  return midnight_ms + hour * ms_per_hour + minute * ms_per_minute + second * ms_per_second + millis -
         offset_ms;
}

}  // namespace orderflow::domain
