#include "tinynet/potential.h"

#include "tinynet/fast_exp.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>

namespace tinynet {

bool ElementModel::outside_training_range(const double *G) const
{
  // Four features at a time without an early exit (a scalar loop with one
  // took ~10 instructions a feature).
  const double *lo = feature_min.data(), *hi = feature_max.data();
  const size_t n = feature_min.size();
  Vec4i outside = {};
  size_t f = 0;
  for (; f + 4 <= n; f += 4) {
    Vec4d g, l, h;
    std::memcpy(&g, G + f, sizeof g);
    std::memcpy(&l, lo + f, sizeof l);
    std::memcpy(&h, hi + f, sizeof h);
    outside |= (g < l) | (g > h);
  }
  bool any = (outside[0] | outside[1] | outside[2] | outside[3]) != 0;
  for (; f < n; ++f) any |= G[f] < lo[f] || G[f] > hi[f];
  return any;
}

int Potential::element_index(const std::string &symbol) const
{
  auto it = std::find(elements.begin(), elements.end(), symbol);
  return it == elements.end() ? -1 : (int) (it - elements.begin());
}

std::string EvaluationError::message(Kind k, const std::string &a, const std::string &b, double r)
{
  if (k == Kind::CLOSE_ATOMS) {
    char buf[160];
    std::snprintf(buf, sizeof buf, " are %.4g Angstrom apart (closer than the minimum of %g Angstrom: coincident atoms?)",
                  r, MIN_DISTANCE);
    return a + " and " + b + buf;
  }
  return "non-finite position, energy or force at " + a +
         " (NaN or infinite coordinates, or a configuration far outside the potential's range)";
}

namespace {

// Every listed pair of the graph (centres' lists and the bond lists of the
// other nodes: all the pairs a descriptor may touch) must be finite and at
// least MIN_DISTANCE apart. Checked for all nodes before any centre is
// evaluated, so that coincident atoms are reported as such wherever they are,
// not as the NaN they would cause in a neighbour's descriptor.
// (skip: nodes whose lists are not checked, or nullptr)
void check_distances(const NeighborGraph &graph, const char *skip = nullptr)
{
  const double min_sq = MIN_DISTANCE * MIN_DISTANCE;
  for (int i = 0; i < graph.n_nodes; ++i) {
    if (graph.species[i] < 0 || (skip && skip[i])) continue;
    const double *xi = graph.x + 3 * i;
    for (int k = 0; k < graph.count[i]; ++k) {
      const int j = graph.neighbor(i, k);
      if (j == i || graph.species[j] < 0) continue;
      const double *xj = graph.x + 3 * j;
      const double dx = xj[0] - xi[0], dy = xj[1] - xi[1], dz = xj[2] - xi[2];
      const double rsq = dx * dx + dy * dy + dz * dz;
      if (!std::isfinite(rsq))    // NaN would slip through every "r < cutoff" test
        throw EvaluationError(EvaluationError::Kind::NON_FINITE,
                              std::isfinite(xi[0] + xi[1] + xi[2]) ? j : i, -1, 0.0);
      if (rsq < min_sq) throw EvaluationError(EvaluationError::Kind::CLOSE_ATOMS, i, j, std::sqrt(rsq));
    }
  }
}

// w -= d (x) g in Voigt order xx, yy, zz, xy, xz, yz: the virial of gradient g
// acting at separation d from the centre.
inline void subtract_virial(double w[6], const double *d, const double *g)
{
  w[0] -= d[0] * g[0];
  w[1] -= d[1] * g[1];
  w[2] -= d[2] * g[2];
  w[3] -= d[0] * g[1];
  w[4] -= d[0] * g[2];
  w[5] -= d[1] * g[2];
}

// Half of the repulsion of the pair (i, j) at separation d = x_j - x_i,
// |d|^2 = rsq < outer^2 (the partner's own turn as centre adds the other
// half): forces straight into `force`, the virial into w; returns the energy.
inline double pair_term(const CoreRepulsion &repulsion, int si, int sj, const double *d, double rsq, int i,
                        int j, double *force, double w[6], double &gradient_sum)
{
  const double r = std::sqrt(rsq);
  double dE_dr = 0.0;
  const double energy = 0.5 * repulsion.energy(si, sj, r, dE_dr);
  const double s = 0.5 * dE_dr / r;
  const double g[3] = {s * d[0], s * d[1], s * d[2]};    // dE/dx_j = -dE/dx_i
  double *fi = force + 3 * (size_t) i, *fj = force + 3 * (size_t) j;
  for (int a = 0; a < 3; ++a) {
    fi[a] += g[a];
    fj[a] -= g[a];
  }
  gradient_sum += g[0] + g[1] + g[2];
  subtract_virial(w, d, g);
  return energy;
}

// Repulsion of centre i with its listed neighbours. Returns the energy and
// adds the virial of this centre to w.
double pair_terms(const NeighborGraph &graph, const CoreRepulsion &repulsion, int i, double *force,
                  double w[6], double &gradient_sum)
{
  if (!repulsion.enabled()) return 0.0;
  const double *xi = graph.x + 3 * i;
  const int si = graph.species[i];
  double energy = 0.0;
  for (int k = 0; k < graph.count[i]; ++k) {
    const int j = graph.neighbor(i, k);
    const int sj = graph.species[j];
    if (j == i || sj < 0) continue;
    const double *xj = graph.x + 3 * j;
    const double d[3] = {xj[0] - xi[0], xj[1] - xi[1], xj[2] - xi[2]};
    const double rsq = d[0] * d[0] + d[1] * d[1] + d[2] * d[2];
    if (rsq < repulsion.outer_sq(si, sj)) energy += pair_term(repulsion, si, sj, d, rsq, i, j, force, w, gradient_sum);
  }
  return energy;
}

// The same terms from the centre's environment, when it holds every pair
// within the repulsion's reach (its list cutoff is larger): the distances are
// already there, instead of a second pass over the whole neighbour list.
double pair_terms_env(const Environment &env, const CoreRepulsion &repulsion, int i, double *force,
                      double w[6], double &gradient_sum)
{
  const int si = env.species[0];
  double energy = 0.0;
  for (int k = 1; k < env.size(); ++k) {
    const int sj = env.species[k];
    const double *d = &env.rel[3 * (size_t) k];
    const double rsq = d[0] * d[0] + d[1] * d[1] + d[2] * d[2];
    if (rsq < repulsion.outer_sq(si, sj))
      energy += pair_term(repulsion, si, sj, d, rsq, i, env.node[k], force, w, gradient_sum);
  }
  return energy;
}

}    // namespace

void compute_repulsion(const CoreRepulsion &repulsion, const NeighborGraph &graph, const int *centers,
                       int n_centers, EvalOutput &out)
{
  check_distances(graph);
  for (int c = 0; c < n_centers; ++c) {
    const int i = centers[c];
    if (graph.species[i] < 0) continue;
    double w[6] = {0, 0, 0, 0, 0, 0};
    double gradient_sum = 0.0;
    const double e = pair_terms(graph, repulsion, i, out.force, w, gradient_sum);
    if (!std::isfinite(e + gradient_sum))
      throw EvaluationError(EvaluationError::Kind::NON_FINITE, i, -1, 0.0);
    out.energy += e;
    if (out.atom_energy) out.atom_energy[i] = e;
    if (out.want_virial)
      for (int m = 0; m < 6; ++m) out.virial[m] += w[m];
    if (out.atom_virial)
      for (int m = 0; m < 6; ++m) out.atom_virial[6 * (size_t) i + m] += w[m];
  }
}

void Potential::compute(const NeighborGraph &graph, const int *centers, int n_centers,
                        EvalOutput &out)
{
  const int nf = descriptor.n_features();
  std::vector<double> G(nf), dE_dG(nf);
  // (the environment holds every listed neighbour closer than its list cutoff)
  const bool repulsion_from_env = repulsion.enabled() && repulsion.max_outer() < descriptor.list_cutoff();
  const double repulsion_reach_sq = repulsion.max_outer() * repulsion.max_outer();
  const bool need_w = out.want_virial || out.atom_virial;
  // The distance check of every listed pair (check_distances) as if it ran
  // before all centres: the centres' own lists are checked while their
  // environments are built (Descriptor flags a close or non-finite pair), the
  // other nodes' lists after the last centre; anything found, and any
  // non-finite centre, runs the full check first, so that the error is the
  // same (the first close pair in node order) as from a check up front.
  descriptor.set_flag_distance(MIN_DISTANCE);
  if (out.check_other_nodes) {
    centre_mark_.assign(graph.n_nodes, 0);
    for (int c = 0; c < n_centers; ++c)
      if (graph.species[centers[c]] >= 0) centre_mark_[centers[c]] = 1;
  }
  descriptor.prepare(graph);
  for (int c = 0; c < n_centers; ++c) {
    const int i = centers[c];
    const int t = graph.species[i];
    if (t < 0) continue;
    double w[6] = {0, 0, 0, 0, 0, 0};
    double gradient_sum = 0.0;    // NaN/inf anywhere in this centre's forces shows up here

    descriptor.prefetch_ahead(graph, centers, n_centers, c);
    descriptor.compute(graph, i, G.data());
    if (descriptor.listed_pair_flagged()) check_distances(graph);    // throws
    // (from the environment only if its nearest neighbour is within reach)
    const double e_pair = !repulsion_from_env ? pair_terms(graph, repulsion, i, out.force, w, gradient_sum)
        : descriptor.nearest_listed_sq() < repulsion_reach_sq
        ? pair_terms_env(descriptor.env(), repulsion, i, out.force, w, gradient_sum)
        : 0.0;
    ElementModel &model = models[t];
    const double ei = model.evaluate(G.data(), dE_dG.data()) + e_pair;
    if (out.check_range && model.outside_training_range(G.data())) ++out.n_extrapolating;
    descriptor.backprop(dE_dG.data());

    // Forces on every node of the neighbourhood; virial of this centre's energy
    // W = -sum_k (r_k - r_i) (x) dE_i/dr_k, which is translation invariant.
    const Environment &env = descriptor.env();
    if (need_w) {
      for (int k = 0; k < env.size(); ++k) {
        const double *g = &env.grad[3 * k], *r = &env.rel[3 * k];
        double *f = out.force + 3 * (size_t) env.node[k];
        f[0] -= g[0];
        f[1] -= g[1];
        f[2] -= g[2];
        gradient_sum += g[0] + g[1] + g[2];
        subtract_virial(w, r, g);
      }
    } else {
      for (int k = 0; k < env.size(); ++k) {
        const double *g = &env.grad[3 * k];
        double *f = out.force + 3 * (size_t) env.node[k];
        f[0] -= g[0];
        f[1] -= g[1];
        f[2] -= g[2];
        gradient_sum += g[0] + g[1] + g[2];
      }
    }
    if (!std::isfinite(ei + gradient_sum)) {
      check_distances(graph);    // a close pair elsewhere is the cause to report
      throw EvaluationError(EvaluationError::Kind::NON_FINITE, i, -1, 0.0);
    }

    out.energy += ei;
    if (out.atom_energy) out.atom_energy[i] = ei;
    if (out.want_virial)
      for (int m = 0; m < 6; ++m) out.virial[m] += w[m];
    if (out.atom_virial)
      for (int m = 0; m < 6; ++m) out.atom_virial[6 * (size_t) i + m] += w[m];
  }
  // The lists of the other nodes (ghosts, images); if one fails, the full
  // check names the first close pair in node order.
  if (!out.check_other_nodes) return;
  try {
    check_distances(graph, centre_mark_.data());
  } catch (const EvaluationError &) {
    check_distances(graph);
    throw;
  }
}

}    // namespace tinynet
