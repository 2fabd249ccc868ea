#!/bin/bash
# Samples a process's CPU every 0.5 s until it exits; logs ticks per sample. With GDB=1 the first
# stall (<5 ticks in 0.5 s) gets every thread's native backtrace.
PID=$1; OUT=$2
prev=$(awk '{print $14+$15}' /proc/$PID/stat); done_gdb=0
while sleep 0.5; do
  cur=$(awk '{print $14+$15}' /proc/$PID/stat 2>/dev/null) || exit 0
  d=$((cur-prev)); prev=$cur
  echo "$(date +%T.%N | cut -c1-10) $d" >> $OUT
  if [ $d -lt 5 ] && [ "$GDB" = 1 ] && [ $done_gdb = 0 ] && [ $(wc -l < $OUT) -gt 60 ]; then done_gdb=1
    for t in /proc/$PID/task/*; do echo "  ${t##*/} $(cat $t/comm) $(awk '{print $3}' $t/stat) wchan=$(cat $t/wchan)" >> $OUT.threads; done
    gdb -p $PID -batch -ex "thread apply all bt 40" > $OUT.gdb 2>&1
  fi
done
