/* ----------------------------------------------------------------------
   compute ID group tinynet/ldos FILE El1 El2 ...

   Per-atom LDOS from a tinynet LDOS model (format "tinynet-ldos"), through
   the same C++ core as the trainer and the ASE calculator. Works beside any
   pair style: it builds its own neighbour lists (locals to the model's list
   cutoff, ghosts to its bond cutoff) from the current positions each time
   it is invoked, and widens the ghost shell to the model's range.
------------------------------------------------------------------------- */

#include "compute_tinynet_ldos.h"

#include "atom.h"
#include "comm.h"
#include "error.h"
#include "memory.h"
#include "neighbor.h"
#include "update.h"
#include "utils.h"

#include "lammps_graph.h"

#include <algorithm>
#include <cmath>

using namespace LAMMPS_NS;

ComputeTinyNetLdos::ComputeTinyNetLdos(LAMMPS *lmp, int narg, char **arg) : Compute(lmp, narg, arg)
{
  const int ntypes = atom->ntypes;
  if (narg != 4 + ntypes)
    error->all(FLERR, "compute tinynet/ldos needs 'ID group tinynet/ldos FILE' and one element (or NULL) per atom type ({} types)",
               ntypes);
  std::string file = utils::get_potential_file_path(arg[3]);
  if (file.empty()) file = arg[3];
  try {
    model = std::make_unique<tinynet::LdosModel>(tinynet::read_ldos_model(file));
  } catch (const std::exception &e) {
    error->all(FLERR, "compute tinynet/ldos: {}", e.what());
  }
  if (model->units != update->unit_style)
    error->all(FLERR, "compute tinynet/ldos: {}: units: the model is in '{}' units but the simulation uses '{}'",
               file, model->units, update->unit_style);
  element_of_type = tinynet_lammps::map_elements(error, *model, file, "compute tinynet/ldos", ntypes, &arg[4]);
  if (std::all_of(element_of_type.begin(), element_of_type.end(), [](int e) { return e < 0; }))
    error->all(FLERR, "compute tinynet/ldos maps no atom type to an element");

  n_points = model->n_points();
  peratom_flag = 1;
  size_peratom_cols = n_points;
  vector_flag = 1;
  size_vector = n_points;
  extvector = 1;    // a sum over atoms
  vector = new double[n_points];

  if (comm->me == 0)
    utils::logmesg(lmp, "compute tinynet/ldos: {} grid points from {:.3f} eV (step {:.3f} eV) relative to the Fermi level, {} features, cutoff {:.4f}\n",
                   n_points, model->grid.energy_start, model->grid.energy_step,
                   model->descriptor.n_features(), model->descriptor.cutoff());
}

ComputeTinyNetLdos::~ComputeTinyNetLdos()
{
  delete[] vector;
  memory->destroy(ldos_atom);
}

void ComputeTinyNetLdos::init()
{
  // Between neighbour-list builds atoms move by up to half the skin, so the
  // ghost shell must reach the model's range plus the skin.
  comm->cutghostuser = std::max(comm->cutghostuser, model->descriptor.cutoff() + neighbor->skin);
  evaluated_step = -1;
}

// Lists from a cell grid over local and ghost atoms: each local atom lists
// every node within the list cutoff (it may be a centre), each ghost its
// bonded partners (walks of the cycle blocks go through them).
void ComputeTinyNetLdos::build_graph()
{
  const int nlocal = atom->nlocal, nall = nlocal + atom->nghost;
  double **x = atom->x;
  const double rc = model->descriptor.list_cutoff(), rb = model->descriptor.bond_cutoff();
  tinynet_lammps::set_node_species(atom, element_of_type, node_species);
  graph.reset(nall, nall > 0 ? &x[0][0] : nullptr, node_species.data());
  if (nall == 0) return;

  // Bounding boxes of all nodes (for the bins) and of the local atoms (which
  // ghosts a walk can reach, below).
  double lo[3], hi[3], local_lo[3], local_hi[3];
  for (int d = 0; d < 3; ++d) lo[d] = hi[d] = local_lo[d] = local_hi[d] = x[0][d];
  for (int i = 1; i < nall; ++i)
    for (int d = 0; d < 3; ++d) {
      lo[d] = std::min(lo[d], x[i][d]);
      hi[d] = std::max(hi[d], x[i][d]);
      if (i < nlocal) {
        local_lo[d] = std::min(local_lo[d], x[i][d]);
        local_hi[d] = std::max(local_hi[d], x[i][d]);
      }
    }
  // Bins about one bond cutoff wide: most nodes are ghosts that need only
  // their bonds (27 bins); locals search as many bins as the list cutoff needs.
  // (No more bins than a few per node, for sparse or elongated domains.)
  double side = rb > 0.0 ? std::min(rb, rc) : rc;
  const double volume = std::max(hi[0] - lo[0], side) * std::max(hi[1] - lo[1], side) *
                        std::max(hi[2] - lo[2], side);
  side = std::max(side, std::cbrt(volume / (4.0 * nall)));
  int nb[3];
  double width[3];
  for (int d = 0; d < 3; ++d) {
    nb[d] = std::max(1, (int) ((hi[d] - lo[d]) / side));
    width[d] = (hi[d] - lo[d]) / nb[d];
  }
  auto bin_index = [&](int d, double v) {
    return std::min(nb[d] - 1, (int) ((v - lo[d]) * nb[d] / (hi[d] - lo[d] + 1e-300)));
  };
  bin_head.assign((size_t) nb[0] * nb[1] * nb[2], -1);
  bin_next.resize(nall);
  std::vector<int> bin_of(nall);
  for (int i = 0; i < nall; ++i) {
    const int b = (bin_index(2, x[i][2]) * nb[1] + bin_index(1, x[i][1])) * nb[0] + bin_index(0, x[i][0]);
    bin_of[i] = b;
    bin_next[i] = bin_head[b];
    bin_head[b] = i;
  }

  neighbors.clear();
  list_start.assign(nall, 0);
  list_count.assign(nall, 0);
  // The ghost shell also holds the skin (for the pair style's lists); a ghost
  // farther than the model's range from every local atom is never visited
  // by a walk, so it gets no list (about half the ghosts of a small domain).
  const double reach_sq = model->descriptor.cutoff() * model->descriptor.cutoff();
  auto beyond_reach = [&](int i) {
    double dsq = 0.0;
    for (int d = 0; d < 3; ++d) {
      const double out = std::max({local_lo[d] - x[i][d], x[i][d] - local_hi[d], 0.0});
      dsq += out * out;
    }
    return dsq > reach_sq;
  };
  for (int i = 0; i < nall; ++i) {
    const double cut = i < nlocal ? rc : rb;
    list_start[i] = (int) neighbors.size();
    if (cut <= 0.0 || (i >= nlocal && beyond_reach(i))) continue;
    const double cutsq = cut * cut;
    const int b = bin_of[i];
    const int bx = b % nb[0], by = (b / nb[0]) % nb[1], bz = b / (nb[0] * nb[1]);
    int reach[3];
    for (int d = 0; d < 3; ++d) reach[d] = width[d] > 0.0 ? (int) std::ceil(cut / width[d]) : 0;
    for (int kz = std::max(0, bz - reach[2]); kz <= std::min(nb[2] - 1, bz + reach[2]); ++kz)
      for (int ky = std::max(0, by - reach[1]); ky <= std::min(nb[1] - 1, by + reach[1]); ++ky)
        for (int kx = std::max(0, bx - reach[0]); kx <= std::min(nb[0] - 1, bx + reach[0]); ++kx)
          for (int j = bin_head[(kz * nb[1] + ky) * nb[0] + kx]; j >= 0; j = bin_next[j]) {
            if (j == i) continue;
            const double dx = x[j][0] - x[i][0], dy = x[j][1] - x[i][1], dz = x[j][2] - x[i][2];
            if (dx * dx + dy * dy + dz * dz < cutsq) neighbors.push_back(j);
          }
    list_count[i] = (int) neighbors.size() - list_start[i];
  }
  for (int i = 0; i < nall; ++i) graph.set_list(i, neighbors.data() + list_start[i], list_count[i]);
}

void ComputeTinyNetLdos::evaluate()
{
  if (evaluated_step == update->ntimestep) return;
  evaluated_step = update->ntimestep;

  if (atom->nmax > nmax) {
    memory->destroy(ldos_atom);
    nmax = atom->nmax;
    memory->create(ldos_atom, nmax, n_points, "tinynet/ldos:ldos_atom");
    array_atom = ldos_atom;
  }
  const int nlocal = atom->nlocal;
  build_graph();
  centers.clear();
  for (int i = 0; i < nlocal; ++i) {
    std::fill(ldos_atom[i], ldos_atom[i] + n_points, 0.0);
    if ((atom->mask[i] & groupbit) && node_species[i] >= 0) centers.push_back(i);
  }
  buffer.resize(centers.size() * (size_t) n_points);
  try {
    model->compute(graph, centers.data(), (int) centers.size(), buffer.data());
  } catch (const std::exception &e) {
    error->one(FLERR, "compute tinynet/ldos: {} (step {})", e.what(), update->ntimestep);
  }
  for (size_t c = 0; c < centers.size(); ++c)
    std::copy(&buffer[c * n_points], &buffer[(c + 1) * n_points], ldos_atom[centers[c]]);
}

void ComputeTinyNetLdos::compute_peratom()
{
  invoked_peratom = update->ntimestep;
  evaluate();
  array_atom = ldos_atom;
}

void ComputeTinyNetLdos::compute_vector()
{
  invoked_vector = update->ntimestep;
  evaluate();
  std::vector<double> local(n_points, 0.0);
  for (int i : centers)
    for (int p = 0; p < n_points; ++p) local[p] += ldos_atom[i][p];
  MPI_Allreduce(local.data(), vector, n_points, MPI_DOUBLE, MPI_SUM, world);
}

double ComputeTinyNetLdos::memory_usage()
{
  double bytes = (double) nmax * n_points * sizeof(double);
  bytes += (double) (neighbors.capacity() + list_start.capacity() + list_count.capacity() +
                     bin_head.capacity() + bin_next.capacity() + node_species.capacity()) * sizeof(int);
  bytes += (double) buffer.capacity() * sizeof(double);
  return bytes + model->descriptor.memory_bytes();
}
