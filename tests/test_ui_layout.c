/* Layout arithmetic, value scales and the braille canvas. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <math.h>
#include <string.h>

#include "ui/ui_layout.h"
#include "ui/ui_plot.h"
#include "ui/ui_scale.h"

static int inside(const ui_rect *r, int rows, int cols)
{
    return !ui_rect_visible(r) || (r->y >= 0 && r->x >= 0 && r->y + r->h <= rows && r->x + r->w <= cols);
}

static int overlap(const ui_rect *a, const ui_rect *b)
{
    if (!ui_rect_visible(a) || !ui_rect_visible(b))
        return 0;
    return a->y < b->y + b->h && b->y < a->y + a->h && a->x < b->x + b->w && b->x < a->x + a->w;
}

static void check_sane(const ui_layout *l)
{
    const ui_rect *all[] = {&l->title, &l->budget, &l->heat, &l->info, &l->pareto, &l->search, &l->status, &l->cmd};
    int n = (int)(sizeof all / sizeof all[0]);
    for (int i = 0; i < n; i++) {
        assert_true(inside(all[i], l->rows, l->cols));
        for (int j = i + 1; j < n; j++)
            assert_false(overlap(all[i], all[j]));
    }
}

static void test_layout_100x30(void **state)
{
    (void)state;
    ui_layout l;
    ui_layout_compute(30, 100, 5, 7, 0, &l);
    assert_false(l.too_small);
    check_sane(&l);
    assert_int_equal(l.status.y, 28);
    assert_int_equal(l.cmd.y, 29);
    assert_int_equal(l.heat_rows, 5);
    assert_true(l.cell_w >= 5);
    assert_true(ui_rect_visible(&l.info) && l.info.w >= 28);
    assert_true(ui_rect_visible(&l.pareto) && l.pareto.h >= 7);
    assert_false(ui_rect_visible(&l.search));
    /* with a search running, plot and panel share the bottom */
    ui_layout_compute(30, 100, 5, 7, 1, &l);
    check_sane(&l);
    assert_true(ui_rect_visible(&l.pareto) && ui_rect_visible(&l.search));
    assert_int_equal(l.pareto.y, l.search.y);
}

static void test_layout_80x24(void **state)
{
    (void)state;
    ui_layout l;
    ui_layout_compute(24, 80, 5, 7, 0, &l);
    assert_false(l.too_small);
    check_sane(&l);
    assert_int_equal(l.heat_rows, 5);
    assert_int_equal(l.cell_w, 6); /* whole format labels: e2m1, not e2 */
    assert_true(l.info.w >= 28);
    assert_true(ui_rect_visible(&l.pareto));
    /* a deep model: the heatmap scrolls and the plot is dropped when there is no room */
    ui_layout_compute(24, 80, 28, 7, 0, &l);
    check_sane(&l);
    assert_true(l.heat_rows < 28 && l.heat_rows >= 1);
    ui_layout_compute(24, 80, 28, 7, 1, &l);
    check_sane(&l);
    assert_true(ui_rect_visible(&l.search));
}

static void test_layout_small_and_huge(void **state)
{
    (void)state;
    ui_layout l;
    ui_layout_compute(UI_MIN_ROWS - 1, 100, 5, 7, 0, &l);
    assert_true(l.too_small);
    ui_layout_compute(30, UI_MIN_COLS - 1, 5, 7, 0, &l);
    assert_true(l.too_small);
    ui_layout_compute(UI_MIN_ROWS, UI_MIN_COLS, 5, 7, 1, &l);
    assert_false(l.too_small);
    check_sane(&l);
    ui_layout_compute(200, 400, 80, 7, 1, &l);
    check_sane(&l);
    assert_int_equal(l.cell_w, 8);
}

static void test_hit_and_budget(void **state)
{
    (void)state;
    ui_layout l;
    ui_layout_compute(30, 100, 5, 7, 0, &l);
    int layer, kind;
    int y = l.heat.y + 2 + 3, x = l.heat.x + 1 + UI_LABEL_W + 2 * l.cell_w + 1;
    assert_int_equal(ui_layout_heat_hit(&l, 0, 5, 7, y, x, &layer, &kind), 0);
    assert_int_equal(layer, 3);
    assert_int_equal(kind, 2);
    assert_int_equal(ui_layout_heat_hit(&l, 0, 5, 7, l.heat.y, x, &layer, &kind), -1);
    assert_int_equal(ui_layout_heat_hit(&l, 0, 5, 7, y, l.heat.x, &layer, &kind), -1);
    int x0, w;
    ui_layout_budget_track(&l, &x0, &w);
    assert_true(w > 10);
    assert_true(fabs(ui_layout_budget_at(&l, 4, 8, x0) - 4) < 1e-12);
    assert_true(fabs(ui_layout_budget_at(&l, 4, 8, x0 + w - 1) - 8) < 1e-12);
    assert_true(ui_layout_budget_at(&l, 4, 8, x0 - 1) < 0);
    assert_true(ui_layout_budget_at(&l, 4, 8, x0 + w) < 0);
    double mid = ui_layout_budget_at(&l, 4, 8, x0 + w / 2);
    assert_true(mid > 5.5 && mid < 6.5);
}

static void test_scale(void **state)
{
    (void)state;
    double v[] = {NAN, 1e-4, 0, -3, 1e-1, INFINITY, 1e-2};
    double lo, hi;
    assert_int_equal(ui_scale_range(v, 7, &lo, &hi), 0);
    assert_true(lo == 1e-4 && hi == 1e-1);
    assert_int_equal(ui_scale_range(v, 1, &lo, &hi), -1);
    assert_int_equal(ui_scale_bin(NAN, 1e-4, 1e-1, 6), -1);
    assert_int_equal(ui_scale_bin(1e-4, 1e-4, 1e-1, 6), 0);
    assert_int_equal(ui_scale_bin(0, 1e-4, 1e-1, 6), 0);
    assert_int_equal(ui_scale_bin(1e-1, 1e-4, 1e-1, 6), 5);
    assert_int_equal(ui_scale_bin(1, 1e-4, 1e-1, 6), 5);
    /* log scale: each decade of three spans two bins */
    assert_int_equal(ui_scale_bin(1.1e-3, 1e-4, 1e-1, 6), 2);
    assert_int_equal(ui_scale_bin(1.1e-2, 1e-4, 1e-1, 6), 4);
    /* monotone */
    int prev = 0;
    for (double x = 1e-4; x <= 1e-1; x *= 1.1) {
        int b = ui_scale_bin(x, 1e-4, 1e-1, 6);
        assert_true(b >= prev);
        prev = b;
    }
    /* every bin has a distinct character (monochrome encoding) */
    for (int a = 0; a < UI_NBINS; a++)
        for (int b = a + 1; b < UI_NBINS; b++)
            assert_true(ui_scale_char(a) != ui_scale_char(b));
    assert_int_equal(ui_scale_char(-1), ' ');
    assert_true(fabs(ui_scale_edge(3, 1e-4, 1e-1, 6) - 1e-4 * pow(1e3, 0.5)) < 1e-12);
    assert_int_equal(ui_scale_map(5, 0, 10, 11), 5);
    assert_int_equal(ui_scale_map(-5, 0, 10, 11), 0);
    assert_int_equal(ui_scale_map(50, 0, 10, 11), 10);
    assert_int_equal(ui_bits_bin(4.25), 0);
    assert_int_equal(ui_bits_bin(6.25), 1);
    assert_int_equal(ui_bits_bin(8.25), 2);
    assert_int_equal(ui_bits_bin(16), 4);
    assert_int_equal(ui_bits_bin(32), 5);
    char buf[16];
    ui_fmt_num(buf, 7, 0.012345);
    assert_string_equal(buf, "0.012");
    ui_fmt_num(buf, 7, 1.5e-5);
    assert_string_equal(buf, "2e-05");
    ui_fmt_num(buf, 8, 1.5e-5);
    assert_string_equal(buf, "1.5e-05");
    ui_fmt_num(buf, 7, NAN);
    assert_string_equal(buf, "-");
}

static void test_canvas(void **state)
{
    (void)state;
    ui_canvas c;
    assert_int_equal(ui_canvas_init(&c, 4, 2, 1), 0);
    assert_int_equal(ui_canvas_dots_w(&c), 8);
    assert_int_equal(ui_canvas_dots_h(&c), 8);
    char s[5];
    assert_int_equal(ui_canvas_cell(&c, 0, 0, s), 1);
    assert_string_equal(s, " ");
    ui_canvas_dot(&c, 0, 0); /* dot 1 */
    ui_canvas_dot(&c, 1, 3); /* dot 8 */
    ui_canvas_cell(&c, 0, 0, s);
    assert_string_equal(s, "\xe2\xa2\x81"); /* U+2881 */
    ui_canvas_dot(&c, 100, 100); /* ignored */
    ui_canvas_dot(&c, -1, 0);
    /* a full diagonal touches every cell on it */
    ui_canvas_clear(&c);
    ui_canvas_line(&c, 0, 7, 7, 0);
    for (int i = 0; i < 4; i++) {
        int cy = 1 - i / 2;
        assert_int_equal(ui_canvas_cell(&c, i, cy, s), 0);
    }
    /* data mapping: y grows upward */
    int dx, dy;
    ui_canvas_map(&c, 4, 10, 4, 8, 10, 20, &dx, &dy);
    assert_int_equal(dx, 0);
    assert_int_equal(dy, 7);
    ui_canvas_map(&c, 8, 20, 4, 8, 10, 20, &dx, &dy);
    assert_int_equal(dx, 7);
    assert_int_equal(dy, 0);
    ui_canvas_mark(&c, 8, 20, 4, 8, 10, 20, '@');
    ui_canvas_cell(&c, 3, 0, s);
    assert_string_equal(s, "@");
    ui_canvas_free(&c);
    /* ASCII fallback: one dot per cell */
    assert_int_equal(ui_canvas_init(&c, 3, 3, 0), 0);
    assert_int_equal(ui_canvas_dots_w(&c), 3);
    ui_canvas_dot(&c, 1, 1);
    ui_canvas_cell(&c, 1, 1, s);
    assert_string_equal(s, ".");
    ui_canvas_free(&c);
    assert_int_equal(ui_canvas_init(&c, 0, 3, 0), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_layout_100x30), cmocka_unit_test(test_layout_80x24),
        cmocka_unit_test(test_layout_small_and_huge), cmocka_unit_test(test_hit_and_budget),
        cmocka_unit_test(test_scale), cmocka_unit_test(test_canvas),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
