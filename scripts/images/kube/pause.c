/* The pod sandbox's "pause" process for the lab's kubeadm nodes (scripts/k8s-images.sh builds
 * it with gcc -static). It holds the pod's namespaces, reaps orphaned children (it is PID 1 of
 * the pod when the PID namespace is shared) and exits on SIGINT or SIGTERM, as the upstream
 * registry.k8s.io/pause does. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static void on_stop(int sig) {
  (void)sig;
  _exit(0);
}

static void on_child(int sig) {
  (void)sig;
  while (waitpid(-1, NULL, WNOHANG) > 0) {
  }
}

int main(int argc, char **argv) {
  struct sigaction stop, child;
  if (argc > 1 && strcmp(argv[1], "-v") == 0) {
    puts("pause (nodesec lab) 3.10.1");
    return 0;
  }
  if (getpid() != 1) fprintf(stderr, "pause: warning: not PID 1\n");
  memset(&stop, 0, sizeof(stop));
  stop.sa_handler = on_stop;
  if (sigaction(SIGINT, &stop, NULL) < 0 || sigaction(SIGTERM, &stop, NULL) < 0) return 1;
  memset(&child, 0, sizeof(child));
  child.sa_handler = on_child;
  child.sa_flags = SA_NOCLDSTOP;
  if (sigaction(SIGCHLD, &child, NULL) < 0) return 2;
  for (;;) pause();
  return 42;
}
