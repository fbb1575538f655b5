// glibc malloc settings for a relay. Socket reads allocate buffer chains of
// up to 256 KiB and free them microseconds later. With glibc's defaults the
// heap top is trimmed and regrown with brk() around almost every read
// (measured: ~1.8 brk per readv), costing about a quarter of the throughput.
#pragma once

void tune_allocator();
