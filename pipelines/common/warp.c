// warp.c — see warp.h.
#include "warp.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

// ---- Delaunay (Bowyer-Watson) ---------------------------------------------------------------------------

typedef struct {
  int v[3];
  double cx, cy, r2;  // circumcircle
} dtri;

static void circumcircle(const wq_point* p, dtri* t) {
  const wq_point a = p[t->v[0]], b = p[t->v[1]], c = p[t->v[2]];
  double d = 2 * (a.x * (b.y - c.y) + b.x * (c.y - a.y) + c.x * (a.y - b.y));
  if (fabs(d) < 1e-12) {  // degenerate: a circle that contains everything, so it is replaced soon
    t->cx = (a.x + b.x + c.x) / 3, t->cy = (a.y + b.y + c.y) / 3, t->r2 = 1e300;
    return;
  }
  double a2 = a.x * a.x + a.y * a.y, b2 = b.x * b.x + b.y * b.y, c2 = c.x * c.x + c.y * c.y;
  t->cx = (a2 * (b.y - c.y) + b2 * (c.y - a.y) + c2 * (a.y - b.y)) / d;
  t->cy = (a2 * (c.x - b.x) + b2 * (a.x - c.x) + c2 * (b.x - a.x)) / d;
  t->r2 = (a.x - t->cx) * (a.x - t->cx) + (a.y - t->cy) * (a.y - t->cy);
}

int wq_delaunay(const wq_point* in, int n, wq_triangle* out, int cap) {
  if (n < 3) return 0;
  // Working points: the input (coincident ones nudged apart) and three of a triangle enclosing them all.
  wq_point* p = malloc(sizeof(wq_point) * (size_t)(n + 3));
  int max_tris = 2 * (n + 3) + 8;
  dtri* tris = malloc(sizeof(dtri) * (size_t)max_tris);
  int (*edges)[2] = malloc(sizeof(int[2]) * (size_t)max_tris * 3);
  if (!p || !tris || !edges) {
    free(p), free(tris), free(edges);
    return -1;
  }
  double minx = 1e300, miny = 1e300, maxx = -1e300, maxy = -1e300;
  for (int i = 0; i < n; ++i) {
    p[i] = in[i];
    for (int j = 0; j < i; ++j)
      if (fabs(p[j].x - p[i].x) < 1e-6 && fabs(p[j].y - p[i].y) < 1e-6) {
        p[i].x += 1e-3 * (1 + i % 7), p[i].y += 1e-3 * (1 + i % 5);
        j = -1;  // check again against all
      }
    minx = fmin(minx, p[i].x), miny = fmin(miny, p[i].y), maxx = fmax(maxx, p[i].x), maxy = fmax(maxy, p[i].y);
  }
  double span = fmax(maxx - minx, maxy - miny) + 1, mx = (minx + maxx) / 2, my = (miny + maxy) / 2;
  p[n] = (wq_point){mx - 20 * span, my - span};
  p[n + 1] = (wq_point){mx, my + 20 * span};
  p[n + 2] = (wq_point){mx + 20 * span, my - span};
  int nt = 1;
  tris[0] = (dtri){{n, n + 1, n + 2}, 0, 0, 0};
  circumcircle(p, &tris[0]);

  for (int i = 0; i < n; ++i) {
    // Remove the triangles whose circumcircle holds p[i]; keep the edges of the hole they leave.
    int ne = 0;
    for (int t = 0; t < nt;) {
      double dx = p[i].x - tris[t].cx, dy = p[i].y - tris[t].cy;
      if (dx * dx + dy * dy <= tris[t].r2) {
        for (int k = 0; k < 3; ++k) {
          int a = tris[t].v[k], b = tris[t].v[(k + 1) % 3], shared = 0;
          for (int e = 0; e < ne; ++e)
            if ((edges[e][0] == b && edges[e][1] == a) || (edges[e][0] == a && edges[e][1] == b)) {
              edges[e][0] = edges[ne - 1][0], edges[e][1] = edges[ne - 1][1];  // an inner edge: drop both
              --ne, shared = 1;
              break;
            }
          if (!shared) edges[ne][0] = a, edges[ne][1] = b, ++ne;
        }
        tris[t] = tris[--nt];
      } else {
        ++t;
      }
    }
    // Fan the hole from p[i].
    for (int e = 0; e < ne && nt < max_tris; ++e) {
      tris[nt] = (dtri){{edges[e][0], edges[e][1], i}, 0, 0, 0};
      circumcircle(p, &tris[nt]);
      ++nt;
    }
  }
  int count = 0;
  for (int t = 0; t < nt && count < cap; ++t)
    if (tris[t].v[0] < n && tris[t].v[1] < n && tris[t].v[2] < n)
      out[count++] = (wq_triangle){tris[t].v[0], tris[t].v[1], tris[t].v[2]};
  free(p), free(tris), free(edges);
  return count;
}

// ---- similarity, hull, distance -------------------------------------------------------------------------

void wq_similarity_fit(const wq_point* from, const wq_point* to, int n, double m[4]) {
  double fx = 0, fy = 0, tx = 0, ty = 0;
  for (int i = 0; i < n; ++i) fx += from[i].x, fy += from[i].y, tx += to[i].x, ty += to[i].y;
  fx /= n, fy /= n, tx /= n, ty /= n;
  double num_a = 0, num_b = 0, den = 0;
  for (int i = 0; i < n; ++i) {
    double ax = from[i].x - fx, ay = from[i].y - fy, bx = to[i].x - tx, by = to[i].y - ty;
    num_a += ax * bx + ay * by;
    num_b += ax * by - ay * bx;
    den += ax * ax + ay * ay;
  }
  m[0] = den > 0 ? num_a / den : 1;
  m[1] = den > 0 ? num_b / den : 0;
  m[2] = tx - (m[0] * fx - m[1] * fy);
  m[3] = ty - (m[1] * fx + m[0] * fy);
}

wq_point wq_similarity_apply(const double m[4], wq_point p) {
  return (wq_point){m[0] * p.x - m[1] * p.y + m[2], m[1] * p.x + m[0] * p.y + m[3]};
}

static double cross(wq_point o, wq_point a, wq_point b) {
  return (a.x - o.x) * (b.y - o.y) - (a.y - o.y) * (b.x - o.x);
}

static const wq_point* g_sort_pts;  // qsort has no context argument
static int by_xy(const void* l, const void* r) {
  const wq_point a = g_sort_pts[*(const int*)l], b = g_sort_pts[*(const int*)r];
  return a.x < b.x ? -1 : a.x > b.x ? 1 : a.y < b.y ? -1 : a.y > b.y ? 1 : 0;
}

int wq_convex_hull(const wq_point* pts, int n, int* hull) {
  if (n < 3) {
    for (int i = 0; i < n; ++i) hull[i] = i;
    return n;
  }
  int* idx = malloc(sizeof(int) * (size_t)n);
  int* h = malloc(sizeof(int) * (size_t)(2 * n));
  if (!idx || !h) {
    free(idx), free(h);
    return 0;
  }
  for (int i = 0; i < n; ++i) idx[i] = i;
  g_sort_pts = pts;
  qsort(idx, (size_t)n, sizeof(int), by_xy);
  int k = 0;
  for (int i = 0; i < n; ++i) {  // lower chain
    while (k >= 2 && cross(pts[h[k - 2]], pts[h[k - 1]], pts[idx[i]]) <= 0) --k;
    h[k++] = idx[i];
  }
  for (int i = n - 2, lower = k + 1; i >= 0; --i) {  // upper chain
    while (k >= lower && cross(pts[h[k - 2]], pts[h[k - 1]], pts[idx[i]]) <= 0) --k;
    h[k++] = idx[i];
  }
  --k;  // the last point repeats the first
  memcpy(hull, h, sizeof(int) * (size_t)k);
  free(idx), free(h);
  return k;
}

int wq_hull_edges(const wq_point* hull, int h, wq_edge* edges) {
  double area2 = 0;  // the orientation decides which side of an edge is out
  for (int i = 0; i < h; ++i) area2 += cross((wq_point){0, 0}, hull[i], hull[(i + 1) % h]);
  const double side = area2 >= 0 ? 1 : -1;
  int n = 0;
  for (int i = 0; i < h; ++i) {
    wq_point a = hull[i], b = hull[(i + 1) % h];
    double ex = b.x - a.x, ey = b.y - a.y, len = sqrt(ex * ex + ey * ey);
    if (len < 1e-9) continue;
    edges[n].nx = side * ey / len;
    edges[n].ny = -side * ex / len;
    edges[n].c = edges[n].nx * a.x + edges[n].ny * a.y;
    ++n;
  }
  return n;
}

double wq_hull_distance(const wq_edge* edges, int n, double x, double y) {
  double d = -1e300;
  for (int i = 0; i < n; ++i) {
    double s = edges[i].nx * x + edges[i].ny * y - edges[i].c;
    if (s > d) d = s;
  }
  return d;
}

// ---- piecewise affine warp ------------------------------------------------------------------------------

void wq_warp_triangles(const wq_image* src, const wq_point* src_pts, const wq_point* dst_pts,
                       const wq_triangle* tris, int ntri, int ox, int oy, int ow, int oh, float* out,
                       uint8_t* covered) {
  memset(covered, 0, (size_t)ow * oh);
  uint8_t* done = calloc((size_t)ow * oh, 1);  // a pixel on a shared edge is written once
  if (!done) return;
  for (int t = 0; t < ntri; ++t) {
    wq_point a = dst_pts[tris[t].a], b = dst_pts[tris[t].b], c = dst_pts[tris[t].c];
    wq_point sa = src_pts[tris[t].a], sb = src_pts[tris[t].b], sc = src_pts[tris[t].c];
    double det = (b.y - c.y) * (a.x - c.x) + (c.x - b.x) * (a.y - c.y);
    if (fabs(det) < 1e-9) continue;
    int x0 = (int)floor(fmin(a.x, fmin(b.x, c.x))) - ox, x1 = (int)ceil(fmax(a.x, fmax(b.x, c.x))) - ox;
    int y0 = (int)floor(fmin(a.y, fmin(b.y, c.y))) - oy, y1 = (int)ceil(fmax(a.y, fmax(b.y, c.y))) - oy;
    if (x0 < 0) x0 = 0;
    if (y0 < 0) y0 = 0;
    if (x1 > ow - 1) x1 = ow - 1;
    if (y1 > oh - 1) y1 = oh - 1;
    for (int y = y0; y <= y1; ++y) {
      double py = oy + y;
      for (int x = x0; x <= x1; ++x) {
        size_t i = (size_t)y * ow + x;
        if (done[i]) continue;
        double px = ox + x;
        double l1 = ((b.y - c.y) * (px - c.x) + (c.x - b.x) * (py - c.y)) / det;
        double l2 = ((c.y - a.y) * (px - c.x) + (a.x - c.x) * (py - c.y)) / det;
        double l3 = 1 - l1 - l2;
        if (l1 < -1e-9 || l2 < -1e-9 || l3 < -1e-9) continue;
        done[i] = 1;
        double sx = l1 * sa.x + l2 * sb.x + l3 * sc.x, sy = l1 * sa.y + l2 * sb.y + l3 * sc.y;
        if (wq_image_sample(src, sx, sy, out + i * 3)) covered[i] = 1;
      }
    }
  }
  free(done);
}
