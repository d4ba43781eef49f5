// Python binding of the descriptor core: the trainer's only route to the
// descriptor math (no second copy in TensorFlow). tinynet/descriptors.py builds
// the neighbour graph (atoms + periodic images) with ASE and calls these.
#include "tinynet/potential.h"
#include "tinynet/blocks/moments.h"
#include "tinynet/fast_exp.h"
#include "tinynet/hopping.h"
#include "tinynet/ldos_model.h"

#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <algorithm>
#include <functional>
#include <optional>

namespace py = pybind11;
using namespace tinynet;

namespace {

using IntArray = py::array_t<int, py::array::c_style | py::array::forcecast>;
using RealArray = py::array_t<double, py::array::c_style | py::array::forcecast>;

// Graph arrays as produced by tinynet.descriptors.build_graph.
struct GraphInput {
  RealArray positions;    // (M, 3) atoms first, then images
  IntArray species;       // (M,)
  IntArray list_start, list_count, neighbors;
  NeighborGraph graph;

  GraphInput(RealArray x, IntArray s, IntArray start, IntArray count, IntArray nbr) :
      positions(x), species(s), list_start(start), list_count(count), neighbors(nbr)
  {
    const int m = (int) species.shape(0);
    if (positions.ndim() != 2 || positions.shape(0) != m || positions.shape(1) != 3)
      throw std::invalid_argument("positions must have shape (M, 3) matching species");
    if (list_start.shape(0) != m || list_count.shape(0) != m)
      throw std::invalid_argument("list_start/list_count must have M entries");
    graph.reset(m, positions.data(), species.data());
    const int *st = list_start.data(), *ct = list_count.data(), *nb = neighbors.data();
    const long n_nb = (long) neighbors.shape(0);
    for (int u = 0; u < m; ++u) {
      if (st[u] < 0 || ct[u] < 0 || (long) st[u] + ct[u] > n_nb)
        throw std::invalid_argument("neighbour list out of bounds");
      for (int k = 0; k < ct[u]; ++k)
        if (nb[st[u] + k] < 0 || nb[st[u] + k] >= m)
          throw std::invalid_argument("neighbour index out of range");
      graph.set_list(u, nb + st[u], ct[u]);
    }
  }
};

// Features of atoms 0..n_atoms-1 and, optionally, their Jacobian with respect
// to atom positions (images folded onto their atom via `owner`) and to strain.
py::dict compute_features(Descriptor &desc, GraphInput &in, const IntArray &owner_arr, int n_atoms,
                          bool jacobian)
{
  const int nf = desc.n_features();
  const int *owner = owner_arr.data();
  const NeighborGraph &graph = in.graph;
  if (owner_arr.shape(0) != graph.n_nodes) throw std::invalid_argument("owner must have M entries");

  RealArray features({n_atoms, nf});
  RealArray dG_dstrain({jacobian ? n_atoms : 0, nf, 3, 3});
  std::vector<long> pair_center, pair_atom;
  std::vector<double> dG_dr;    // [pair][feature][3]
  std::vector<int> slot_of_atom(n_atoms, -1);
  std::vector<double> onehot(nf, 0.0);

  desc.prepare(graph);
  for (int i = 0; i < n_atoms; ++i) {
    if (graph.species[i] < 0) throw std::invalid_argument("atom with an unknown species");
    double *G = features.mutable_data(i);
    desc.compute(graph, i, G);
    if (!jacobian) continue;

    const Environment &env = desc.env();
    double *strain = dG_dstrain.mutable_data(i);
    std::fill(strain, strain + nf * 9, 0.0);
    const size_t first_pair = pair_center.size();
    for (int f = 0; f < nf; ++f) {
      onehot[f] = 1.0;
      desc.backprop(onehot.data());
      onehot[f] = 0.0;
      for (int k = 0; k < env.size(); ++k) {
        const double *g = &env.grad[3 * k];
        if (g[0] == 0.0 && g[1] == 0.0 && g[2] == 0.0) continue;
        const int atom = owner[env.node[k]];
        if (slot_of_atom[atom] < 0) {
          slot_of_atom[atom] = (int) pair_center.size();
          pair_center.push_back(i);
          pair_atom.push_back(atom);
          dG_dr.resize(dG_dr.size() + (size_t) nf * 3, 0.0);
        }
        double *dst = &dG_dr[((size_t) slot_of_atom[atom] * nf + f) * 3];
        const double *r = &env.rel[3 * k];
        for (int a = 0; a < 3; ++a) {
          dst[a] += g[a];
          for (int b = 0; b < 3; ++b) strain[f * 9 + a * 3 + b] += g[a] * r[b];
        }
      }
    }
    for (size_t p = first_pair; p < pair_center.size(); ++p) slot_of_atom[pair_atom[p]] = -1;
  }

  py::dict out;
  out["features"] = features;
  if (jacobian) {
    const long np = (long) pair_center.size();
    RealArray jac({np, (long) nf, 3L});
    std::copy(dG_dr.begin(), dG_dr.end(), jac.mutable_data());
    out["pair_center"] = py::array_t<long>(np, pair_center.data());
    out["pair_atom"] = py::array_t<long>(np, pair_atom.data());
    out["dG_dr"] = jac;
    out["dG_dstrain"] = dG_dstrain;
  }
  return out;
}

// Energy, per-node forces, per-centre energies and the virial, from a
// potential or the repulsion alone (`run` calls the core on the centres).
// An EvaluationError names atoms by their index in the host's Atoms (`owner`
// folds periodic images onto their atom).
py::dict evaluate_with(GraphInput &in, int n_atoms, const std::optional<IntArray> &owner,
                       const std::function<void(const int *, int, EvalOutput &)> &run)
{
  const NeighborGraph &graph = in.graph;
  if (n_atoms < 0 || n_atoms > graph.n_nodes) throw std::invalid_argument("n_atoms out of range");
  if (owner && owner->shape(0) != graph.n_nodes) throw std::invalid_argument("owner must have M entries");
  RealArray forces({graph.n_nodes, 3});
  RealArray atom_energy(n_atoms);
  std::fill(forces.mutable_data(), forces.mutable_data() + 3 * graph.n_nodes, 0.0);
  std::vector<double> node_energy(graph.n_nodes, 0.0);
  std::vector<int> centers;
  for (int i = 0; i < n_atoms; ++i)
    if (graph.species[i] >= 0) centers.push_back(i);

  EvalOutput out;
  out.force = forces.mutable_data();
  out.atom_energy = node_energy.data();
  out.want_virial = true;
  try {
    run(centers.data(), (int) centers.size(), out);
  } catch (const EvaluationError &e) {
    const std::string what = e.describe([&](int node) {
      const int atom = owner ? owner->data()[node] : node;
      return "atom " + std::to_string(atom) + (atom != node ? " (periodic image)" : "");
    });
    if (e.kind == EvaluationError::Kind::CLOSE_ATOMS) throw py::value_error(what);
    throw std::runtime_error(what);
  }
  std::copy(node_energy.begin(), node_energy.begin() + n_atoms, atom_energy.mutable_data());

  py::dict d;
  d["energy"] = out.energy;
  d["node_forces"] = forces;
  d["atom_energies"] = atom_energy;
  d["virial"] = std::vector<double>(out.virial, out.virial + 6);
  d["n_extrapolating"] = out.n_extrapolating;
  return d;
}

template <class T> T translate_errors(const std::function<T()> &fn)
{
  try {
    return fn();
  } catch (const FileError &e) {
    // The Python reader's exception type, with the same message.
    py::object error = py::module_::import("tinynet.validation").attr("PotentialFileError")(e.file, e.field, e.detail);
    PyErr_SetObject(py::type::of(error).ptr(), error.ptr());
    throw py::error_already_set();
  }
}

}    // namespace

PYBIND11_MODULE(_core, m)
{
  m.doc() = "tinynet descriptor core (C++), shared with pair_style tinynet";
  // For tests: the ring of bond rows of descriptors made from now on
  // (hopping.h); returns the previous size.
  m.def(
      "set_bond_ring_slots",
      [](size_t slots) {
        const size_t previous = BondTable::initial_slots;
        BondTable::initial_slots = std::max<size_t>(slots, 1);
        return previous;
      },
      py::arg("slots"));
  // Test hook: the core's inline exp (fast_exp.h), four at a time and scalar
  // for the tail, elementwise over an array.
  m.def(
      "fast_exp",
      [](const RealArray &x) {
        RealArray out(x.size());
        fast_exp_array(x.data(), out.mutable_data(), (int) x.size());
        return out;
      },
      py::arg("x"));
  // Test hook: the moments block's n_max <= 4 kernel on or off (moments.h);
  // returns the previous setting.
  m.def(
      "set_moments_shallow_kernel",
      [](bool on) {
        const bool previous = MomentsBlock::use_shallow_kernel;
        MomentsBlock::use_shallow_kernel = on;
        return previous;
      },
      py::arg("on"));

  py::class_<GraphInput>(m, "Graph")
      .def(py::init<RealArray, IntArray, IntArray, IntArray, IntArray>(), py::arg("positions"),
           py::arg("species"), py::arg("list_start"), py::arg("list_count"), py::arg("neighbors"),
           py::keep_alive<1, 2>(), py::keep_alive<1, 3>());

  py::class_<Descriptor>(m, "Descriptor")
      .def(py::init([](const std::string &json_text, const std::vector<std::string> &elements) {
             return translate_errors<Descriptor>(
                 [&] { return parse_descriptor(json_text, elements, "<descriptor>"); });
           }),
           py::arg("descriptor_json"), py::arg("elements"))
      .def_property_readonly("n_features", &Descriptor::n_features)
      .def_property_readonly("cutoff", &Descriptor::cutoff)
      .def_property_readonly("bond_cutoff", &Descriptor::bond_cutoff)
      .def("compute", &compute_features, py::arg("graph"), py::arg("owner"), py::arg("n_atoms"),
           py::arg("jacobian") = true);

  py::class_<Potential>(m, "Potential")
      .def(py::init([](const std::string &path) {
             return translate_errors<Potential>([&] { return read_potential(path); });
           }),
           py::arg("path"))
      .def_readonly("elements", &Potential::elements)
      .def_readonly("cutoff", &Potential::cutoff)
      .def_readonly("units", &Potential::units)
      .def_property_readonly("bond_cutoff",
                             [](const Potential &p) { return p.descriptor.bond_cutoff(); })
      .def_property_readonly("n_features",
                             [](const Potential &p) { return p.descriptor.n_features(); })
      .def_property_readonly("list_cutoff", &Potential::list_cutoff)
      .def_property_readonly("has_core_repulsion", [](const Potential &p) { return p.repulsion.enabled(); })
      .def(
          "evaluate",
          [](Potential &pot, GraphInput &in, int n_atoms, std::optional<IntArray> owner) {
            return evaluate_with(in, n_atoms, owner, [&](const int *c, int n, EvalOutput &out) {
              pot.compute(in.graph, c, n, out);
            });
          },
          py::arg("graph"), py::arg("n_atoms"), py::arg("owner") = py::none());

  // The "core_repulsion" section alone: the trainer's baseline, the same code
  // as inside Potential.evaluate.
  py::class_<CoreRepulsion>(m, "CoreRepulsion")
      .def(py::init([](const std::string &json_text, const std::vector<std::string> &elements, double cutoff) {
             return translate_errors<CoreRepulsion>(
                 [&] { return parse_core_repulsion(json_text, elements, cutoff, "<core_repulsion>"); });
           }),
           py::arg("section_json"), py::arg("elements"), py::arg("cutoff"))
      .def_property_readonly("max_outer", &CoreRepulsion::max_outer)
      .def(
          "evaluate",
          [](const CoreRepulsion &rep, GraphInput &in, int n_atoms, std::optional<IntArray> owner) {
            return evaluate_with(in, n_atoms, owner, [&](const int *c, int n, EvalOutput &out) {
              compute_repulsion(rep, in.graph, c, n, out);
            });
          },
          py::arg("graph"), py::arg("n_atoms"), py::arg("owner") = py::none());

  // LDOS model ("tinynet-ldos" file): per-atom LDOS of atoms 0..n_atoms-1 of a graph.
  py::class_<LdosModel>(m, "LdosModel")
      .def(py::init([](const std::string &path) {
             return translate_errors<LdosModel>([&] { return read_ldos_model(path); });
           }),
           py::arg("path"))
      .def_readonly("elements", &LdosModel::elements)
      .def_property_readonly("cutoff", [](const LdosModel &l) { return l.descriptor.cutoff(); })
      .def_property_readonly("bond_cutoff", [](const LdosModel &l) { return l.descriptor.bond_cutoff(); })
      .def_property_readonly("n_points", &LdosModel::n_points)
      .def_property_readonly("energy_start", [](const LdosModel &l) { return l.grid.energy_start; })
      .def_property_readonly("energy_step", [](const LdosModel &l) { return l.grid.energy_step; })
      .def_property_readonly("broadening", [](const LdosModel &l) { return l.grid.broadening; })
      .def(
          "evaluate",
          [](LdosModel &model, GraphInput &in, int n_atoms) {
            if (n_atoms < 0 || n_atoms > in.graph.n_nodes) throw std::invalid_argument("n_atoms out of range");
            std::vector<int> centers(n_atoms);
            for (int i = 0; i < n_atoms; ++i) centers[i] = i;
            RealArray ldos({n_atoms, model.n_points()});
            model.compute(in.graph, centers.data(), n_atoms, ldos.mutable_data());
            return ldos;
          },
          py::arg("graph"), py::arg("n_atoms"));
}
