/* Small writers for the JSON Lines logs and result files (and CSV fields). */
#ifndef AT_JSON_H
#define AT_JSON_H

#include <stdio.h>

void json_string(FILE *out, const char *s); /* quoted and escaped */
void json_number(FILE *out, double v);      /* NaN / Inf become null */
void json_csv_field(FILE *out, const char *s);

#endif
