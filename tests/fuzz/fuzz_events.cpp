// The event schedule: parsing, validation against a small dataset, the occurrence plan and the
// learned effects (every event name must stay valid text, every window inside the grid).
#include <cmath>
#include <stdexcept>
#include <string_view>

#include "fuzz_util.hpp"
#include "vigil/error.hpp"
#include "vigil/event_plan.hpp"
#include "vigil/events.hpp"

namespace {

vigil::Dataset small_dataset() {
  vigil::Dataset d;
  d.keys.dims = {"region", "stack"};
  for (const char* region : {"br", "uk"})
    for (const char* stack : {"web", "tv"}) {
      d.keys.codes.push_back(d.keys.intern(0, region));
      d.keys.codes.push_back(d.keys.intern(1, stack));
    }
  d.start = 1767225600;  // 2026-01-01
  d.step = 3600;
  d.T = 96;
  d.values.assign(d.T * d.N(), 100.0f);
  for (size_t t = 0; t < d.T; ++t)
    for (size_t i = 0; i < d.N(); ++i) d.values[t * d.N() + i] = 100.0f + static_cast<float>((t * 7 + i) % 13);
  return d;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const vigil::Dataset dataset = small_dataset();
  try {
    const vigil::EventSchedule schedule =
        vigil::parse_events(std::string_view(reinterpret_cast<const char*>(data), size), "events.csv");
    nlohmann::json names = nlohmann::json::array();
    for (const vigil::Event& e : schedule.events) names.push_back(e.name);
    (void)names.dump();
    vigil::validate_events(schedule, dataset);
    vigil::EventPlan plan = vigil::plan_events(schedule, dataset);
    for (const vigil::EventEffect& entry : plan.entries)
      if (entry.first >= entry.end || entry.end > dataset.T) throw std::logic_error("event window off the grid");
    const size_t N = dataset.N();
    std::vector<uint8_t> transform(N, vigil::kLog1p);
    std::vector<float> base(dataset.T * N);
    for (size_t p = 0; p < base.size(); ++p) base[p] = std::log1p(dataset.values[p]);
    std::vector<int64_t> columns(N);
    for (size_t i = 0; i < N; ++i) columns[i] = static_cast<int64_t>(i);
    vigil::learn_event_effects(plan, schedule, dataset, transform, base, columns, N, "stack", {});
    for (size_t i = 0; i < N; ++i) (void)vigil::active_events(plan, i, dataset.T / 2);
  } catch (const vigil::InputError&) {
  }
  return 0;
}
