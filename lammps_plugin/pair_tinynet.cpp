/* ----------------------------------------------------------------------
   pair_style tinynet

     pair_style tinynet [extrapolation warn|error|ignore] [report_every N]
     pair_coeff * * potential.tinynet El1 El2 ... (NULL for unmodelled types)

   Energies, forces, global and per-atom energy/virial. Many-body forces on
   ghost atoms are reverse-communicated by LAMMPS (newton_pair on required).
   The core's EvaluationError (two atoms closer than tinynet::MIN_DISTANCE,
   a non-finite position, energy or force) stops the run naming atom IDs.
------------------------------------------------------------------------- */

#include "pair_tinynet.h"

#include "lammps_graph.h"

#include "atom.h"
#include "comm.h"
#include "error.h"
#include "force.h"
#include "memory.h"
#include "neigh_list.h"
#include "neighbor.h"
#include "update.h"
#include "utils.h"

#include <algorithm>
#include <cstring>

using namespace LAMMPS_NS;

PairTinyNet::PairTinyNet(LAMMPS *lmp) : Pair(lmp)
{
  single_enable = 0;
  restartinfo = 0;
  one_coeff = 1;
  manybody_flag = 1;
  ghostneigh = 1;    // bonds of ghost atoms are walked by the cycle descriptor
  centroidstressflag = CENTROID_NOTAVAIL;
  // compute pair tinynet: [0] atoms outside the training range this step,
  // [1] atom-steps outside it since the last report.
  nextra = 2;
  pvector = new double[nextra];
  pvector[0] = pvector[1] = 0.0;
}

PairTinyNet::~PairTinyNet()
{
  delete[] pvector;
  if (allocated) {
    memory->destroy(setflag);
    memory->destroy(cutsq);
    memory->destroy(cutghost);
  }
}

void PairTinyNet::allocate()
{
  allocated = 1;
  const int n = atom->ntypes + 1;
  memory->create(setflag, n, n, "pair:setflag");
  memory->create(cutsq, n, n, "pair:cutsq");
  memory->create(cutghost, n, n, "pair:cutghost");
  for (int i = 0; i < n; ++i)
    for (int j = 0; j < n; ++j) setflag[i][j] = 0;
}

void PairTinyNet::settings(int narg, char **arg)
{
  for (int iarg = 0; iarg < narg; iarg += 2) {
    if (iarg + 1 >= narg) error->all(FLERR, "pair_style tinynet: missing value for '{}'", arg[iarg]);
    const std::string key = arg[iarg], value = arg[iarg + 1];
    if (key == "extrapolation") {
      if (value == "warn") extrapolation = Extrapolation::WARN;
      else if (value == "error") extrapolation = Extrapolation::ERROR;
      else if (value == "ignore") extrapolation = Extrapolation::IGNORE;
      else error->all(FLERR, "pair_style tinynet: extrapolation must be warn, error or ignore, not '{}'", value);
    } else if (key == "report_every") {
      report_every = utils::inumeric(FLERR, value, false, lmp);
      if (report_every < 0) error->all(FLERR, "pair_style tinynet: report_every must be >= 0");
    } else {
      error->all(FLERR, "pair_style tinynet: unknown keyword '{}'", key);
    }
  }
}

void PairTinyNet::coeff(int narg, char **arg)
{
  if (!allocated) allocate();
  const int ntypes = atom->ntypes;
  if (narg != 3 + ntypes)
    error->all(FLERR, "pair_coeff for tinynet needs '* * FILE' and one element (or NULL) per atom type ({} types)", ntypes);
  if (strcmp(arg[0], "*") != 0 || strcmp(arg[1], "*") != 0)
    error->all(FLERR, "pair_coeff for tinynet must be '* * FILE El1 El2 ...'");

  // Also look in LAMMPS_POTENTIALS, like every LAMMPS potential file.
  std::string file = utils::get_potential_file_path(arg[2]);
  if (file.empty()) file = arg[2];
  try {
    potential = std::make_unique<tinynet::Potential>(tinynet::read_potential(file));
  } catch (const std::exception &e) {
    error->all(FLERR, "pair_style tinynet: {}", e.what());
  }
  if (potential->units != update->unit_style)
    error->all(FLERR, "pair_style tinynet: {}: units: the potential is in '{}' units but the simulation uses '{}'",
               file, potential->units, update->unit_style);

  element_of_type.assign(ntypes + 1, -1);
  for (int t = 1; t <= ntypes; ++t) {
    const std::string symbol = arg[2 + t];
    if (symbol == "NULL") continue;
    const int e = potential->element_index(symbol);
    if (e < 0)
      error->all(FLERR, "pair_style tinynet: {}: elements: element '{}' (atom type {}) is not in the potential (it has: {})",
                 file, symbol, t, utils::join_words(potential->elements, " "));
    element_of_type[t] = e;
  }

  int count = 0;
  for (int i = 1; i <= ntypes; ++i)
    for (int j = i; j <= ntypes; ++j)
      if (element_of_type[i] >= 0 && element_of_type[j] >= 0) {
        setflag[i][j] = 1;
        ++count;
      } else {
        setflag[i][j] = 0;
      }
  if (count == 0) error->all(FLERR, "pair_coeff for tinynet maps no atom type to an element");

  if (comm->me == 0)
    utils::logmesg(lmp, "pair_style tinynet: {} elements ({}), {} features, cutoff {:.4f}, bond cutoff {:.4f}\n",
                   potential->elements.size(), utils::join_words(potential->elements, " "),
                   potential->descriptor.n_features(), potential->cutoff,
                   potential->descriptor.bond_cutoff());
}

void PairTinyNet::init_style()
{
  if (force->newton_pair == 0) error->all(FLERR, "pair_style tinynet requires newton pair on");
  if (!potential) error->all(FLERR, "pair_style tinynet: pair_coeff has not been given");
  // A full list with neighbours of ghosts: the cycle descriptor walks bonds
  // of ghost atoms too, and forces on ghosts are summed back by LAMMPS.
  neighbor->add_request(this, NeighConst::REQ_FULL | NeighConst::REQ_GHOST);
}

double PairTinyNet::init_one(int i, int j)
{
  // Pairs with a NULL type are not set (so pair hybrid can give them to
  // another style) but need no error: the core skips unmodelled atoms.
  // Centres need neighbours out to the list cutoff only; the cycle block
  // reaches further nodes by walking bonds, so ghost atoms need their bonds,
  // and the ghost shell must cover the whole interaction range.
  // The centres' own lists also hold the repulsion's pairs (list_cutoff()).
  cutghost[i][j] = cutghost[j][i] = potential->descriptor.bond_cutoff();
  comm->cutghostuser = std::max(comm->cutghostuser, potential->cutoff + neighbor->skin);
  return potential->list_cutoff();
}

void PairTinyNet::compute(int eflag, int vflag)
{
  ev_init(eflag, vflag);

  const int nall = atom->nlocal + atom->nghost;
  // The graph borrows LAMMPS's lists (locals and ghosts); no copy.
  tinynet_lammps::set_node_species(atom, element_of_type, node_species);
  tinynet_lammps::graph_from_list(graph, atom, list, node_species);
  const double bond_cutoff = potential->descriptor.bond_cutoff();
  if (bond_cutoff > 0.0) bond_lists.attach(graph, atom, list, neighbor->ago == 0, bond_cutoff + neighbor->skin);

  tinynet::EvalOutput out;
  out.force = nall > 0 ? &atom->f[0][0] : nullptr;
  out.atom_energy = eflag_atom ? eatom : nullptr;
  out.atom_virial = vflag_atom ? &vatom[0][0] : nullptr;
  out.want_virial = vflag_global && !vflag_fdotr;
  out.check_range = extrapolation != Extrapolation::IGNORE;
  // Every ghost is an image of a local atom of some rank, a centre there:
  // a close pair among ghosts is found in that centre's list (and stops
  // every rank), so the ghosts' own lists need no second check.
  out.check_other_nodes = false;
  std::string failure;
  try {
    potential->compute(graph, list->ilist, list->inum, out);
  } catch (const tinynet::EvaluationError &e) {
    // Name atoms by their IDs (a ghost by the ID of the atom it images).
    const tagint *tag = atom->tag;
    const std::string what = e.describe([&](int node) { return "atom " + std::to_string(tag[node]); });
    failure = fmt::format("pair_style tinynet: {} (step {}, potential {})", what, update->ntimestep,
                          potential->path);
  } catch (const std::exception &e) {
    failure = fmt::format("pair_style tinynet: {} (step {})", e.what(), update->ntimestep);
  }

  if (eflag_global) eng_vdwl += out.energy;
  if (out.want_virial)
    for (int m = 0; m < 6; ++m) virial[m] += out.virial[m];
  if (vflag_fdotr) virial_fdotr_compute();

  pvector[0] = (double) out.n_extrapolating;
  extrapolating_local += out.n_extrapolating;
  ++steps_local;
  pvector[1] = (double) extrapolating_local;
  if (extrapolation == Extrapolation::ERROR && out.n_extrapolating > 0 && failure.empty())
    failure = fmt::format("pair_style tinynet: {} atoms on rank {} have descriptors outside the training range of {} (step {})",
                          out.n_extrapolating, comm->me, potential->path, update->ntimestep);
  stop_if_failed(failure);
  if (report_every > 0 && update->ntimestep % report_every == 0) report_extrapolation("last steps");
}

// A failure seen on some ranks stops every rank with the lowest failing
// rank's message. Collective on purpose: with error->one, mpirun's abort
// often swallows the message (measured: lost in ~1 of 12 two-rank runs).
// Costs one integer allreduce per step.
void PairTinyNet::stop_if_failed(const std::string &failure)
{
  int first = failure.empty() ? comm->nprocs : comm->me, first_all = first;
  if (comm->nprocs > 1) MPI_Allreduce(&first, &first_all, 1, MPI_INT, MPI_MIN, world);
  if (first_all == comm->nprocs) return;
  std::string message = failure;
  int length = (int) message.size();
  MPI_Bcast(&length, 1, MPI_INT, first_all, world);
  message.resize(length);
  MPI_Bcast(message.data(), length, MPI_CHAR, first_all, world);
  if (first_all != 0) message += fmt::format(" (on rank {})", first_all);
  error->all(FLERR, message);
}

// Sum the counters over ranks and warn if any atom left the training range.
void PairTinyNet::report_extrapolation(const char *when)
{
  if (extrapolation == Extrapolation::IGNORE || !potential) return;
  bigint local[2] = {extrapolating_local, steps_local}, total[2] = {0, 0};
  MPI_Allreduce(local, total, 2, MPI_LMP_BIGINT, MPI_SUM, world);
  extrapolating_local = steps_local = 0;
  const bigint natoms = atom->natoms;
  if (total[0] > 0 && comm->me == 0)
    error->warning(FLERR, "pair_style tinynet: {} atom-steps had descriptors outside the training range of {} ({}: {:.3g}% of atom-steps)",
                   total[0], potential->path, when, 100.0 * (double) total[0] / (double) (natoms * (total[1] > 0 ? total[1] / comm->nprocs : 1)));
}

void PairTinyNet::finish()
{
  report_extrapolation("this run");
}

double PairTinyNet::memory_usage()
{
  double bytes = Pair::memory_usage();
  bytes += (double) graph.list.capacity() * sizeof(int *);
  bytes += (double) (graph.count.capacity() + node_species.capacity()) * sizeof(int);
  bytes += (double) graph.bond_count.capacity() * sizeof(int);
  bytes += bond_lists.memory_bytes();
  if (potential) bytes += potential->descriptor.memory_bytes();
  return bytes;
}
