/* MPI data parallelism (see dist.h). Collectives are non-blocking MPI calls
 * polled against a deadline; beside each, every rank sends rank 0 a small
 * "arrived at step S" message, so that on a timeout rank 0 can say which
 * ranks never came. */
#include "dist/dist.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/clock.h"
#include "core/error.h"
#include "core/hash.h"
#include "nn/backend_registry.h"

static DistInfo g_info = {0, 1, 0, 1};
static double g_timeout = 600.0;
static DeviceAllreduce g_device_allreduce;

const DistInfo *dist_info(void) { return &g_info; }
void dist_set_timeout(double seconds) { g_timeout = seconds > 0 ? seconds : 600.0; }
void dist_register_device_allreduce(DeviceAllreduce fn) { g_device_allreduce = fn; }

void dist_check_same_binary(void) {
  if (g_info.size == 1) return;
  FILE *f = fopen("/proc/self/exe", "rb");
  if (!f) at_fatal("cannot read this executable to check that every rank runs the same auratag");
  size_t cap = 1 << 20, n = 0, got;
  unsigned char *buf = at_malloc(cap, "executable");
  while ((got = fread(buf + n, 1, cap - n, f)) > 0) {
    n += got;
    if (n == cap) buf = at_realloc(buf, cap *= 2, "executable");
  }
  fclose(f);
  uint64_t h = at_fnv1a(buf, n, AT_FNV1A_BASIS);
  free(buf);
  dist_check_same("auratag binary", &h, sizeof h);
}

#ifdef AT_WITH_MPI
#include <mpi.h>

enum { TAG_ARRIVED = 7301, TAG_PING = 7302, TAG_PONG = 7303 };
static int g_mpi;

int dist_built(void) { return 1; }

static int launched_size(void) {
  /* set by mpirun (Open MPI, MPICH) and inside an srun step; not by a batch
   * script's own environment (SLURM_NTASKS), where a plain ./auratag eval
   * must stay a single process */
  const char *vars[] = {"OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "SLURM_STEP_NUM_TASKS"};
  for (size_t i = 0; i < sizeof vars / sizeof vars[0]; i++) {
    const char *v = getenv(vars[i]);
    if (v && atoi(v) > 1) return atoi(v);
  }
  return 1;
}

static void abort_job(void) {
  fflush(NULL);
  MPI_Abort(MPI_COMM_WORLD, 1);
  _exit(1);
}

void dist_init(int *argc, char ***argv) {
  if (launched_size() <= 1) return;
  int provided = 0;
  if (MPI_Init_thread(argc, argv, MPI_THREAD_FUNNELED, &provided) != MPI_SUCCESS)
    at_fatal("MPI_Init failed: launched as a job of several ranks, but MPI cannot start");
  g_mpi = 1;
  MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
  MPI_Comm_rank(MPI_COMM_WORLD, &g_info.rank);
  MPI_Comm_size(MPI_COMM_WORLD, &g_info.size);
  MPI_Comm local;
  MPI_Comm_split_type(MPI_COMM_WORLD, MPI_COMM_TYPE_SHARED, 0, MPI_INFO_NULL, &local);
  MPI_Comm_rank(local, &g_info.local_rank);
  MPI_Comm_size(local, &g_info.local_size);
  MPI_Comm_free(&local);
  /* a fatal error on one rank ends every rank (instead of leaving them in
   * a collective) */
  at_set_fatal_hook(abort_job);
  /* one GPU per rank: the local rank's, unless --device chose */
  DeviceSettings *ds = at_device_settings();
  if (!ds->device_from_command_line) {
    char why[256];
    int gpus = at_backend_cuda_devices(why, sizeof why);
    ds->cuda.device = gpus > 0 ? g_info.local_rank % gpus : 0;
  }
}

void dist_finalize(void) {
  if (g_mpi) MPI_Finalize();
  g_mpi = 0;
}

static void check(int rc, const char *call) {
  if (rc == MPI_SUCCESS) return;
  char msg[MPI_MAX_ERROR_STRING];
  int len = 0;
  MPI_Error_string(rc, msg, &len);
  at_fatal("rank %d: %s failed: %s", g_info.rank, call, msg);
}

/* A rank waiting in a collective answers rank 0's "are you there?". */
static void answer_ping(void) {
  int flag = 0;
  MPI_Status st;
  if (MPI_Iprobe(0, TAG_PING, MPI_COMM_WORLD, &flag, &st) != MPI_SUCCESS || !flag) return;
  int v = 0;
  MPI_Recv(&v, 1, MPI_INT, 0, TAG_PING, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
  MPI_Send(&g_info.rank, 1, MPI_INT, 0, TAG_PONG, MPI_COMM_WORLD);
}

/* Rank 0, after a stalled collective: the ranks that do not answer a ping
 * within a few seconds, as a list into out. */
static void silent_ranks(char *out, size_t size) {
  const int n = g_info.size;
  MPI_Request *req = at_malloc(sizeof(MPI_Request) * 2 * (size_t)n, "pings");
  int *pong = at_calloc((size_t)n, sizeof(int), "pings"), ping = 1;
  for (int r = 1; r < n; r++) {
    MPI_Isend(&ping, 1, MPI_INT, r, TAG_PING, MPI_COMM_WORLD, &req[2 * r]);
    MPI_Irecv(&pong[r], 1, MPI_INT, r, TAG_PONG, MPI_COMM_WORLD, &req[2 * r + 1]);
  }
  const double until = at_now_seconds() + (g_timeout < 5 ? g_timeout : 5);
  while (at_now_seconds() < until) {
    struct timespec pause = {0, 1000000};
    nanosleep(&pause, NULL);
  }
  size_t len = 0;
  out[0] = '\0';
  for (int r = 1; r < n; r++) {
    int got = 0;
    MPI_Test(&req[2 * r + 1], &got, MPI_STATUS_IGNORE);
    if (!got && len + 16 < size) len += (size_t)snprintf(out + len, size - len, "%s%d", len ? ", " : "", r);
  }
  free(req);
  free(pong);
}

/* Waits for a collective request, with the arrival messages beside it. */
static void wait_collective(MPI_Request *req, const char *what, long step) {
  static long sent_step;
  long *arrived = NULL;
  MPI_Request *hb = NULL;
  MPI_Request hb_send = MPI_REQUEST_NULL;
  const int n = g_info.size;
  if (g_info.rank == 0) {
    arrived = at_calloc((size_t)n, sizeof(long), "arrivals");
    hb = at_malloc(sizeof(MPI_Request) * (size_t)n, "arrivals");
    hb[0] = MPI_REQUEST_NULL;
    for (int r = 1; r < n; r++) check(MPI_Irecv(&arrived[r], 1, MPI_LONG, r, TAG_ARRIVED, MPI_COMM_WORLD, &hb[r]), "MPI_Irecv");
  } else {
    sent_step = step;
    check(MPI_Isend(&sent_step, 1, MPI_LONG, 0, TAG_ARRIVED, MPI_COMM_WORLD, &hb_send), "MPI_Isend");
  }
  const double deadline = at_now_seconds() + g_timeout;
  int done = 0;
  while (!done) {
    check(MPI_Test(req, &done, MPI_STATUS_IGNORE), "MPI_Test");
    if (done) break;
    if (g_info.rank != 0) answer_ping();
    if (at_now_seconds() > deadline) {
      fflush(stdout);
      if (g_info.rank == 0) {
        char missing[1024] = "";
        size_t len = 0;
        for (int r = 1; r < n; r++) {
          int got = 0;
          MPI_Test(&hb[r], &got, MPI_STATUS_IGNORE);
          if (!got && len + 16 < sizeof missing) len += (size_t)snprintf(missing + len, sizeof missing - len, "%s%d", len ? ", " : "", r);
        }
        const char *where = "did not reach";
        if (!len) { /* all arrived, the collective stalls: who still answers? */
          silent_ranks(missing, sizeof missing);
          where = "stopped answering inside";
          len = strlen(missing);
        }
        fprintf(stderr, "auratag: error: rank(s) %s %s the %s collective of step %ld within %.0f s: dead or "
                        "hung (see their logs); stopping all %d ranks. The last checkpoint is intact: resume with "
                        "the same number of ranks\n",
                len ? missing : "(none: the interconnect?)", where, what, step, g_timeout, n);
      } else {
        fprintf(stderr, "auratag: error: rank %d waited %.0f s in the %s collective of step %ld: another rank is dead "
                        "or hung; stopping all ranks\n", g_info.rank, g_timeout, what, step);
      }
      abort_job();
    }
    struct timespec pause = {0, 100000}; /* 0.1 ms */
    nanosleep(&pause, NULL);
  }
  if (g_info.rank == 0) {
    check(MPI_Waitall(n, hb, MPI_STATUSES_IGNORE), "MPI_Waitall");
    free(hb);
    free(arrived);
  } else {
    check(MPI_Wait(&hb_send, MPI_STATUS_IGNORE), "MPI_Wait");
  }
}

static void allreduce_host(float *buf, size_t n, const char *what, long step) {
  /* counts are ints in MPI: large buffers go in pieces */
  const size_t piece = (size_t)1 << 30;
  for (size_t off = 0; off < n; off += piece) {
    const int count = (int)(n - off < piece ? n - off : piece);
    MPI_Request req;
    check(MPI_Iallreduce(MPI_IN_PLACE, buf + off, count, MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD, &req), "MPI_Iallreduce");
    wait_collective(&req, what, step);
  }
}

void dist_allreduce_sum(const Backend *be, float *buf, size_t n, const char *what, long step) {
  if (!g_mpi) return;
  if (!strcmp(be->name, "cpu")) {
    allreduce_host(buf, n, what, step);
    return;
  }
  if (g_device_allreduce) {
    /* NCCL on the compute stream; the arrival messages go beside it over MPI */
    MPI_Request req;
    check(MPI_Ibarrier(MPI_COMM_WORLD, &req), "MPI_Ibarrier");
    wait_collective(&req, what, step);
    if (g_device_allreduce(buf, n, g_timeout) != 0) {
      fprintf(stderr, "auratag: error: rank %d: the NCCL all-reduce (%s, step %ld) did not finish within %.0f s; "
                      "stopping all ranks\n", g_info.rank, what, step, g_timeout);
      abort_job();
    }
    return;
  }
  /* a GPU backend without NCCL: through host memory */
  float *host = at_malloc(sizeof(float) * (n ? n : 1), "all-reduce staging");
  be->to_host(host, buf, sizeof(float) * n);
  allreduce_host(host, n, what, step);
  be->to_device(buf, host, sizeof(float) * n);
  free(host);
}

void dist_sum_doubles(double *v, int n, const char *what, long step) {
  if (!g_mpi) return;
  MPI_Request req;
  check(MPI_Iallreduce(MPI_IN_PLACE, v, n, MPI_DOUBLE, MPI_SUM, MPI_COMM_WORLD, &req), "MPI_Iallreduce");
  wait_collective(&req, what, step);
}

void dist_broadcast_bytes(void *buf, size_t bytes, const char *what) {
  if (!g_mpi) return;
  MPI_Request req;
  check(MPI_Ibcast(buf, (int)bytes, MPI_BYTE, 0, MPI_COMM_WORLD, &req), "MPI_Ibcast");
  wait_collective(&req, what, -1);
}

void dist_check_same(const char *what, const void *data, size_t bytes) {
  if (!g_mpi) return;
  uint64_t mine = at_fnv1a(data, bytes, AT_FNV1A_BASIS);
  uint64_t *all = at_malloc(sizeof(uint64_t) * (size_t)g_info.size, "hashes");
  MPI_Request req;
  check(MPI_Iallgather(&mine, 1, MPI_UINT64_T, all, 1, MPI_UINT64_T, MPI_COMM_WORLD, &req), "MPI_Iallgather");
  wait_collective(&req, what, -1);
  char differ[1024] = "";
  size_t len = 0;
  for (int r = 1; r < g_info.size; r++)
    if (all[r] != all[0] && len + 16 < sizeof differ)
      len += (size_t)snprintf(differ + len, sizeof differ - len, "%s%d", len ? ", " : "", r);
  free(all);
  if (len) {
    if (g_info.rank == 0)
      fprintf(stderr, "auratag: error: rank(s) %s run with another %s than rank 0; every rank must run the same "
                      "auratag with the same config and --set options\n", differ, what);
    abort_job();
  }
}

#else /* no MPI: a job of one rank */

int dist_built(void) { return 0; }
void dist_init(int *argc, char ***argv) {
  (void)argc;
  (void)argv;
  const char *v = getenv("OMPI_COMM_WORLD_SIZE");
  if (!v) v = getenv("PMI_SIZE");
  if (v && atoi(v) > 1)
    at_fatal("launched as a job of %s ranks, but this auratag was built without MPI (install libopenmpi-dev and "
             "rebuild); every rank would train alone", v);
}
void dist_finalize(void) {}
void dist_allreduce_sum(const Backend *be, float *buf, size_t n, const char *what, long step) {
  (void)be, (void)buf, (void)n, (void)what, (void)step;
}
void dist_sum_doubles(double *v, int n, const char *what, long step) { (void)v, (void)n, (void)what, (void)step; }
void dist_broadcast_bytes(void *buf, size_t bytes, const char *what) { (void)buf, (void)bytes, (void)what; }
void dist_check_same(const char *what, const void *data, size_t bytes) { (void)what, (void)data, (void)bytes; }

#endif
