#!/usr/bin/env bash
# Slurm job template for a large qep ground-state run. Site-specific lines are grouped at the top:
# edit them once for your cluster. Submit with:  sbatch scripts/slurm_ground.sh
#SBATCH --job-name=qep-ground
#SBATCH --nodes=4
#SBATCH --ntasks-per-node=32          # power of two per node keeps -qep_operator shell usable
#SBATCH --time=02:00:00
#SBATCH --output=qep-ground-%j.out
# ---- site-specific ---------------------------------------------------------------------------
# module load openmpi petsc slepc      # or rely on the Debian packages
LAUNCH=${LAUNCH:-srun}                  # srun, or "mpirun -np $SLURM_NTASKS"
QEP=${QEP:-$PWD/build/src/qep}
OPTIONS=${OPTIONS:-petsc_options/ground_tfim28_shell.opts}
OUT=${OUT:-results/ground-$SLURM_JOB_ID}
# ------------------------------------------------------------------------------------------------
set -euo pipefail
mkdir -p "$OUT"
$LAUNCH "$QEP" ground -options_file "$OPTIONS" \
  -qep_json "$OUT/summary.json" -qep_save_state "$OUT/state.h5" \
  -log_view ":$OUT/log_view.txt"
echo "summary: $OUT/summary.json"
