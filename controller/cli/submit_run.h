/*
 * submit_run.h — `twinctl submit` following a run (submit_run.c): what
 * the exchange's loop hands on (responses, results, events, the answers
 * of repair's requests), the --set requests due, whether every answer
 * came, and the verdict.
 */
#ifndef TWIN_SUBMIT_RUN_H
#define TWIN_SUBMIT_RUN_H

#include "submit.h"

void submit_run__draw(submit *s, double now); /* the progress line */
void submit_run__on_result(submit *s, const mqtt_event *ev);
void submit_run__on_event(submit *s, const mqtt_event *ev);
void submit_run__on_response(submit *s, const mqtt_event *ev);
void submit_run__on_repair_answer(submit *s, const mqtt_event *ev,
                                  double now);
void submit_run__send_sets(submit *s);        /* the --set requests due */
/* Have all the answers come (or will no more)? */
int submit_run__complete(const submit *s, double now);
/* The exit status of a run that got its final response, said. */
int submit_run__verdict(submit *s);
/* repair_io for repair.c: its requests go to the run's controller. */
int submit_run__send_repair(void *ctx, const char *payload);
void submit_run__repair_note(void *ctx, const char *sentence);

#endif
