// The environment every torch reference of the benchmarks runs in (one definition for forward, load, harvest, sae).
//
// This machine's environment sets OPENBLAS_CORETYPE=Haswell and OPENBLAS_L2_SIZE for other tools; inherited, they
// would run torch's matmuls on OpenBLAS's AVX2 kernels at about half the speed of the AVX-512 ones this CPU has,
// and flatter every ratio. So both are dropped and the AVX-512 core named explicitly (OpenBLAS 0.3.21 may not
// recognise newer CPUs and fall back to slower kernels on its own). SAFESAIL_BENCH_OPENBLAS_CORETYPE overrides it.
// The reports print the core OpenBLAS actually ran (forward_torch.py's blas_info).
export function torchEnv(threads: number, base: NodeJS.ProcessEnv = process.env): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...base };
  delete env.OPENBLAS_CORETYPE;
  delete env.OPENBLAS_L2_SIZE;
  env.OPENBLAS_CORETYPE = base.SAFESAIL_BENCH_OPENBLAS_CORETYPE ?? "SkylakeX";
  env.OPENBLAS_NUM_THREADS = String(threads);
  // torch's OpenMP workers and OpenBLAS's pthreads take turns on the same cores; spinning OpenMP workers starve the
  // BLAS threads (prefill measured 3-4x slower with the default policy).
  env.OMP_WAIT_POLICY = base.OMP_WAIT_POLICY ?? "PASSIVE";
  return env;
}
