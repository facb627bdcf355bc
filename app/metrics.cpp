#include "app/metrics.h"

#include <cmath>
#include <cstdio>
#include <stdexcept>

namespace orderflow::app {
namespace {

std::string escape_label(const std::string& v) {
  std::string out;
  for (char c : v) {
    if (c == '\\' || c == '"') out.push_back('\\');
    if (c == '\n') {
      out += "\\n";
      continue;
    }
    out.push_back(c);
  }
  return out;
}

std::string label_text(const Labels& labels, const std::string& extra_key = {}, const std::string& extra_value = {}) {
  if (labels.empty() && extra_key.empty()) return {};
  std::string out = "{";
  bool first = true;
  for (const auto& [k, v] : labels) {
    if (!first) out += ',';
    first = false;
    out += k + "=\"" + escape_label(v) + "\"";
  }
  if (!extra_key.empty()) {
    if (!first) out += ',';
    out += extra_key + "=\"" + extra_value + "\"";
  }
  return out + "}";
}

std::string number(double v) {
  if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
  if (std::isnan(v)) return "NaN";
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.17g", v);
  return buf;
}

}  // namespace

Histogram::Histogram(std::vector<double> bounds)
    : bounds_(std::move(bounds)), buckets_(new std::atomic<uint64_t>[bounds_.size() + 1]) {
  for (size_t i = 0; i <= bounds_.size(); ++i) buckets_[i].store(0);
}

void Histogram::observe(double v) {
  size_t i = 0;
  while (i < bounds_.size() && v > bounds_[i]) ++i;
  buckets_[i].fetch_add(1, std::memory_order_relaxed);
  count_.fetch_add(1, std::memory_order_relaxed);
  double old = sum_.load(std::memory_order_relaxed);
  while (!sum_.compare_exchange_weak(old, old + v, std::memory_order_relaxed)) {
  }
}

std::vector<uint64_t> Histogram::bucket_counts() const {
  std::vector<uint64_t> out(bounds_.size() + 1);
  for (size_t i = 0; i < out.size(); ++i) out[i] = buckets_[i].load(std::memory_order_relaxed);
  return out;
}

std::vector<double> MetricsRegistry::latency_buckets_s() {
  return {0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10};
}

MetricsRegistry::Family& MetricsRegistry::family(const std::string& name, const std::string& help, Kind kind) {
  for (auto& f : families_) {
    if (f->name == name) {
      if (f->kind != kind) throw std::logic_error("metric " + name + " registered with two kinds");
      return *f;
    }
  }
  families_.push_back(std::make_unique<Family>(Family{name, help, kind, {}}));
  return *families_.back();
}

MetricsRegistry::Series* MetricsRegistry::find(Family& f, const Labels& labels) {
  for (auto& s : f.series)
    if (s->labels == labels) return s.get();
  return nullptr;
}

Counter& MetricsRegistry::counter(const std::string& name, const std::string& help, const Labels& labels) {
  std::lock_guard lock(mutex_);
  auto& f = family(name, help, Kind::counter);
  if (auto* s = find(f, labels)) return *s->counter;
  auto s = std::make_unique<Series>();
  s->labels = labels;
  s->counter = std::make_unique<Counter>();
  f.series.push_back(std::move(s));
  return *f.series.back()->counter;
}

Gauge& MetricsRegistry::gauge(const std::string& name, const std::string& help, const Labels& labels) {
  std::lock_guard lock(mutex_);
  auto& f = family(name, help, Kind::gauge);
  if (auto* s = find(f, labels); s && s->gauge) return *s->gauge;
  auto s = std::make_unique<Series>();
  s->labels = labels;
  s->gauge = std::make_unique<Gauge>();
  f.series.push_back(std::move(s));
  return *f.series.back()->gauge;
}

Histogram& MetricsRegistry::histogram(const std::string& name, const std::string& help,
                                      const std::vector<double>& bounds, const Labels& labels) {
  std::lock_guard lock(mutex_);
  auto& f = family(name, help, Kind::histogram);
  if (auto* s = find(f, labels)) return *s->histogram;
  auto s = std::make_unique<Series>();
  s->labels = labels;
  s->histogram = std::make_unique<Histogram>(bounds);
  f.series.push_back(std::move(s));
  return *f.series.back()->histogram;
}

void MetricsRegistry::counter_fn(const std::string& name, const std::string& help, std::function<double()> read,
                                 const Labels& labels) {
  std::lock_guard lock(mutex_);
  auto& f = family(name, help, Kind::counter);
  auto s = std::make_unique<Series>();
  s->labels = labels;
  s->read = std::move(read);
  f.series.push_back(std::move(s));
}

void MetricsRegistry::gauge_fn(const std::string& name, const std::string& help, std::function<double()> read,
                               const Labels& labels) {
  std::lock_guard lock(mutex_);
  auto& f = family(name, help, Kind::gauge);
  if (auto* s = find(f, labels)) {
    s->read = std::move(read);
    return;
  }
  auto s = std::make_unique<Series>();
  s->labels = labels;
  s->read = std::move(read);
  f.series.push_back(std::move(s));
}

std::string MetricsRegistry::render() const {
  std::lock_guard lock(mutex_);
  std::string out;
  for (const auto& f : families_) {
    if (f->series.empty()) continue;
    static const char* kinds[] = {"counter", "gauge", "histogram"};
    out += "# HELP " + f->name + " " + f->help + "\n";
    out += "# TYPE " + f->name + " " + kinds[static_cast<int>(f->kind)] + "\n";
    for (const auto& s : f->series) {
      switch (f->kind) {
        case Kind::counter:
          out += f->name + label_text(s->labels) + " " +
                 (s->read ? number(s->read()) : std::to_string(s->counter->value())) + "\n";
          break;
        case Kind::gauge: {
          double v = s->read ? s->read() : s->gauge->value();
          out += f->name + label_text(s->labels) + " " + number(v) + "\n";
          break;
        }
        case Kind::histogram: {
          const auto& h = *s->histogram;
          auto counts = h.bucket_counts();
          uint64_t cumulative = 0;
          for (size_t i = 0; i < counts.size(); ++i) {
            cumulative += counts[i];
            std::string le = i < h.bounds().size() ? number(h.bounds()[i]) : "+Inf";
            out += f->name + "_bucket" + label_text(s->labels, "le", le) + " " + std::to_string(cumulative) + "\n";
          }
          out += f->name + "_sum" + label_text(s->labels) + " " + number(h.sum()) + "\n";
          out += f->name + "_count" + label_text(s->labels) + " " + std::to_string(cumulative) + "\n";
          break;
        }
      }
    }
  }
  return out;
}

}  // namespace orderflow::app
