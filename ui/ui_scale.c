/* Log-scale bins, linear maps and compact numbers for the drawing code. */
#include "ui/ui_scale.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

int ui_scale_range(const double *v, int n, double *lo, double *hi)
{
    *lo = *hi = NAN;
    for (int i = 0; i < n; i++) {
        if (!isfinite(v[i]) || v[i] <= 0)
            continue;
        if (isnan(*lo) || v[i] < *lo)
            *lo = v[i];
        if (isnan(*hi) || v[i] > *hi)
            *hi = v[i];
    }
    return isnan(*lo) ? -1 : 0;
}

int ui_scale_bin(double v, double lo, double hi, int nbins)
{
    if (isnan(v))
        return -1;
    if (nbins < 1)
        return 0;
    if (v <= 0 || !(lo > 0) || !(hi > lo) || v <= lo)
        return (v > 0 && hi > 0 && v >= hi && !(hi > lo)) ? nbins - 1 : 0;
    if (v >= hi)
        return nbins - 1;
    double t = log(v / lo) / log(hi / lo);
    int b = (int)(t * nbins);
    return b >= nbins ? nbins - 1 : b;
}

char ui_scale_char(int bin)
{
    static const char ramp[UI_NBINS] = {'.', ':', '-', '=', '*', '#'};
    if (bin < 0)
        return ' ';
    return ramp[bin >= UI_NBINS ? UI_NBINS - 1 : bin];
}

double ui_scale_edge(int bin, double lo, double hi, int nbins)
{
    if (!(lo > 0) || !(hi > lo) || nbins < 1)
        return lo;
    return lo * pow(hi / lo, (double)bin / nbins);
}

int ui_scale_map(double v, double lo, double hi, int n)
{
    if (isnan(v) || n < 1)
        return -1;
    if (!(hi > lo))
        return 0;
    double t = (v - lo) / (hi - lo);
    int i = (int)lround(t * (n - 1));
    if (i < 0)
        i = 0;
    if (i > n - 1)
        i = n - 1;
    return i;
}

int ui_bits_bin(double bits)
{
    if (isnan(bits))
        return -1;
    if (bits < 5)
        return 0;  /* mxfp4 */
    if (bits < 7)
        return 1;  /* mxfp6 */
    if (bits < 9)
        return 2;  /* mxfp8 / int8 */
    if (bits < 17)
        return 4;  /* bf16 */
    return 5;      /* fp32 */
}

void ui_fmt_num(char *out, int width, double v)
{
    char buf[64];
    if (width < 1) {
        out[0] = '\0';
        return;
    }
    if (isnan(v))
        snprintf(buf, sizeof buf, "-");
    else if (v == 0)
        snprintf(buf, sizeof buf, "0");
    else if (fabs(v) >= 0.01 && fabs(v) < 1000)
        snprintf(buf, sizeof buf, "%.*f", width >= 6 ? 3 : 2, v);
    else
        snprintf(buf, sizeof buf, "%.*e", width >= 8 ? 1 : 0, v);
    /* Trim to width: drop precision first (the "%.0e" form is the shortest). */
    if ((int)strlen(buf) > width && !isnan(v) && v != 0)
        snprintf(buf, sizeof buf, "%.0e", v);
    if (width < (int)sizeof buf)
        buf[width] = '\0';
    strcpy(out, buf);
}
