// Grouping along the dimension lattice: raised episodes that happen together become one alarm
// per most general scope (shared dimension values) whose series they cover densely.
#include <algorithm>
#include <cmath>
#include <unordered_map>
#include <unordered_set>

#include "vigil/alarms.hpp"

namespace vigil {
namespace {

using ScopeTerms = std::vector<std::pair<size_t, uint32_t>>;  // (dim, code), dims ascending

std::string scope_key(const ScopeTerms& terms) {
  std::string key;
  for (auto& [d, c] : terms) {
    key.append(reinterpret_cast<const char*>(&d), sizeof(d));
    key.append(reinterpret_cast<const char*>(&c), sizeof(c));
  }
  return key;
}

// Number of series in the whole dataset that match a scope, by walking the shortest posting
// list of its terms; cached, since clusters ask for the same scopes again and again.
class ScopeCounter {
 public:
  explicit ScopeCounter(const Keys& keys) : keys_(keys), postings_(keys.num_dims()) {
    for (size_t d = 0; d < keys.num_dims(); ++d) postings_[d].resize(keys.dictionary[d].size());
    for (size_t i = 0; i < keys.num_series(); ++i)
      for (size_t d = 0; d < keys.num_dims(); ++d) postings_[d][keys.code(i, d)].push_back(static_cast<uint32_t>(i));
  }

  size_t count(const ScopeTerms& terms) {
    if (terms.empty()) return keys_.num_series();
    const std::string key = scope_key(terms);
    auto it = cache_.find(key);
    if (it != cache_.end()) return it->second;
    size_t shortest = 0;
    for (size_t k = 1; k < terms.size(); ++k)
      if (list(terms[k]).size() < list(terms[shortest]).size()) shortest = k;
    size_t n = 0;
    for (uint32_t i : list(terms[shortest])) {
      bool all = true;
      for (auto& [d, c] : terms) all = all && keys_.code(i, d) == c;
      n += all;
    }
    cache_.emplace(key, n);
    return n;
  }

 private:
  const std::vector<uint32_t>& list(const std::pair<size_t, uint32_t>& term) const {
    return postings_[term.first][term.second];
  }
  const Keys& keys_;
  std::vector<std::vector<std::vector<uint32_t>>> postings_;  // [dim][code] -> series
  std::unordered_map<std::string, size_t> cache_;
};

ScopeTerms full_scope(const Keys& keys, uint32_t series) {
  ScopeTerms s;
  for (size_t d = 0; d < keys.num_dims(); ++d) s.emplace_back(d, keys.code(series, d));
  return s;
}

ScopeTerms subset(const Keys& keys, uint32_t series, unsigned mask) {
  ScopeTerms s;
  for (size_t d = 0; d < keys.num_dims(); ++d)
    if (mask & (1u << d)) s.emplace_back(d, keys.code(series, d));
  return s;
}

bool in_scope(const Keys& keys, uint32_t series, const ScopeTerms& scope) {
  for (auto& [d, c] : scope)
    if (keys.code(series, d) != c) return false;
  return true;
}

std::string severity_of(float impact, size_t n_series) {
  const float a = std::fabs(impact);
  if (n_series >= 10 || a >= 0.5f) return "critical";
  if (n_series >= 2 || a >= 0.2f) return "major";
  return "minor";
}

float median(std::vector<float> v) {
  if (v.empty()) return 0;
  std::nth_element(v.begin(), v.begin() + v.size() / 2, v.end());
  return v[v.size() / 2];
}

// Span, members, peak and summary of an alarm from its episodes. One malfunction often moves
// metrics both ways (plays drop while errors spike): the alarm's direction is its members'
// majority direction, and its impact the median change of the episodes going that way.
void finish(Alarm& a, std::vector<Episode>& episodes, long index) {
  std::unordered_set<uint32_t> members;
  bool first_episode = true;
  a.drops = a.spikes = 0;
  for (uint32_t e : a.episodes) {
    Episode& ep = episodes[e];
    ep.alarm = index;
    members.insert(ep.series);
    (ep.direction == Direction::Drop ? a.drops : a.spikes) += 1;
    if (first_episode || ep.first < a.first) a.first = ep.first;
    if (first_episode || ep.last > a.last) a.last = ep.last;
    if (first_episode || std::fabs(ep.peak_z) > std::fabs(a.peak_z)) a.peak_z = ep.peak_z;
    first_episode = false;
  }
  a.direction = a.drops > a.spikes   ? Direction::Drop
                : a.spikes > a.drops ? Direction::Spike
                                     : (a.peak_z < 0 ? Direction::Drop : Direction::Spike);
  std::vector<float> impacts;
  for (uint32_t e : a.episodes)
    if (episodes[e].direction == a.direction) impacts.push_back(episodes[e].impact);
  a.series.assign(members.begin(), members.end());
  std::sort(a.series.begin(), a.series.end());
  a.impact = median(impacts);
  a.severity = severity_of(a.impact, a.series.size());
}

}  // namespace

// A scope that at least this many series (and the square root of its size) deviate in together
// claims them however sparse they are in it.
constexpr size_t kBroadMembers = 10;

std::vector<Alarm> group_alarms(const Dataset& data, std::vector<Episode>& episodes, const Config& config) {
  const Keys& keys = data.keys;
  const size_t D = keys.num_dims();
  const auto& det = config.detection;
  const uint32_t window = static_cast<uint32_t>(
      std::max(0.0, std::floor(det.group_window_minutes * 60.0 / static_cast<double>(data.step))));
  ScopeCounter counter(keys);
  std::vector<Alarm> alarms;

  std::vector<uint32_t> order;
  for (uint32_t e = 0; e < episodes.size(); ++e)
    if (episodes[e].decision == "raised") order.push_back(e);
  std::sort(order.begin(), order.end(), [&](uint32_t a, uint32_t b) {
    return episodes[a].first != episodes[b].first ? episodes[a].first < episodes[b].first
                                                  : episodes[a].series < episodes[b].series;
  });
  std::vector<size_t> open;  // multi-series alarms still collecting members
  std::vector<uint8_t> assigned(episodes.size(), 0);

  for (size_t k = 0; k < order.size(); ++k) {
    const uint32_t seed = order[k];
    if (assigned[seed]) continue;
    const Episode& sd = episodes[seed];
    // A late member of an incident already alarmed joins that alarm.
    open.erase(std::remove_if(open.begin(), open.end(),
                              [&](size_t a) { return alarms[a].last + window < sd.first; }),
               open.end());
    bool joined = false;
    for (size_t a : open)
      if (in_scope(keys, sd.series, alarms[a].scope)) {
        alarms[a].episodes.push_back(seed);
        alarms[a].last = std::max(alarms[a].last, sd.last);
        assigned[seed] = 1;
        joined = true;
        break;
      }
    if (joined) continue;

    // Candidates: unassigned episodes that overlap the seed in time or start within the
    // grouping window after it (onsets are sorted): the members of a broad incident on noisy
    // series notice it at scattered times.
    std::vector<uint32_t> cand;
    const uint32_t horizon = std::max(sd.last, sd.first + window);
    for (size_t j = k; j < order.size() && episodes[order[j]].first <= horizon; ++j)
      if (!assigned[order[j]]) cand.push_back(order[j]);

    // The scope around the seed (a subset of its dimension values) that best explains the
    // candidates: the most members m for its size n, by m * (m / n), among scopes holding at
    // least `scope_density` of their series (or broad, see kBroadMembers); ties go to more members, then the denser, then
    // the more general scope. m^2/n prefers {device: roku} with 800 of 800 series over every
    // series (800 of 25,600), and a metric-wide spike seen by 700 of 1,600 series over one
    // device's 111 of 200.
    ScopeTerms best = full_scope(keys, sd.series);
    size_t best_members = 1, best_total = 1;
    if (cand.size() > 1 && D > 0 && D <= 16) {  // 2^D scopes around the seed
      for (unsigned mask = 0; mask + 1 < (1u << D); ++mask) {
        ScopeTerms scope = subset(keys, sd.series, mask);
        std::unordered_set<uint32_t> members;
        for (uint32_t e : cand)
          if (in_scope(keys, episodes[e].series, scope)) members.insert(episodes[e].series);
        const size_t m = members.size();
        if (m < 2) continue;
        const size_t total = counter.count(scope);
        // Dense enough, or broad: many series of a large scope at once are one incident even
        // when most of them are too small to notice it (a metric-wide spike of sparse error counts).
        const bool dense = static_cast<double>(m) >= det.scope_density * static_cast<double>(total);
        const bool broad = m >= kBroadMembers && static_cast<double>(m) * m >= static_cast<double>(total);
        if (!dense && !broad) continue;
        // Compare m^2/n exactly: m^2 * n_best vs m_best^2 * n.
        const double lhs = static_cast<double>(m) * m * best_total;
        const double rhs = static_cast<double>(best_members) * best_members * total;
        const bool better =
            lhs > rhs ||
            (lhs == rhs && (m > best_members ||
                            (m == best_members && (total < best_total ||
                                                   (total == best_total && scope.size() < best.size())))));
        if (better) {
          best = std::move(scope);
          best_members = m;
          best_total = total;
        }
      }
    }
    Alarm alarm;
    alarm.scope = best;
    alarm.density = static_cast<double>(best_members) / static_cast<double>(best_total);
    for (uint32_t e : cand)
      if (in_scope(keys, episodes[e].series, alarm.scope)) {
        alarm.episodes.push_back(e);
        assigned[e] = 1;
      }
    finish(alarm, episodes, static_cast<long>(alarms.size()));
    if (alarm.series.size() > 1) open.push_back(alarms.size());
    alarms.push_back(std::move(alarm));
  }
  // Late joiners changed spans and membership: recompute every alarm's summary.
  for (size_t a = 0; a < alarms.size(); ++a) finish(alarms[a], episodes, static_cast<long>(a));
  std::sort(alarms.begin(), alarms.end(), [](const Alarm& a, const Alarm& b) {
    return a.first != b.first ? a.first < b.first : a.series < b.series;
  });
  for (size_t a = 0; a < alarms.size(); ++a)
    for (uint32_t e : alarms[a].episodes) episodes[e].alarm = static_cast<long>(a);
  return alarms;
}

}  // namespace vigil
