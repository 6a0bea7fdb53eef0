// warp.h — geometry for aligning one face onto another: Delaunay triangulation, a least-squares similarity
// transform, convex hulls and the piecewise affine warp over triangles (HEAD_SWAP).
#ifndef WQ_WARP_H_
#define WQ_WARP_H_

#include <stdint.h>

#include "image.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct {
  double x, y;
} wq_point;

typedef struct {
  int a, b, c;  // indices into the point list
} wq_triangle;

// The Delaunay triangulation of n points (Bowyer-Watson; n is small: a face's landmarks). Writes at most
// `cap` triangles (2n is always enough) and returns how many, or -1 when out of memory. Coincident points
// are nudged apart first, so the caller may pass rounded landmarks.
int wq_delaunay(const wq_point* pts, int n, wq_triangle* out, int cap);

// The similarity (scale, rotation, translation) that maps from[i] closest to to[i] in least squares:
// x' = m[0] x - m[1] y + m[2], y' = m[1] x + m[0] y + m[3].
void wq_similarity_fit(const wq_point* from, const wq_point* to, int n, double m[4]);
wq_point wq_similarity_apply(const double m[4], wq_point p);

// The convex hull of n points (Andrew's monotone chain), as indices in order around it; returns how many
// (at most n). Coordinates everywhere here are pixel centres: pixel (i, j) is at (i, j).
int wq_convex_hull(const wq_point* pts, int n, int* hull);

// A convex polygon's edges as lines n·p = c with outward unit normals, for wq_hull_distance.
typedef struct {
  double nx, ny, c;
} wq_edge;

// The edges of the convex polygon `hull` (h vertices as from wq_convex_hull; `edges` has room for h);
// returns how many (degenerate edges are left out).
int wq_hull_edges(const wq_point* hull, int h, wq_edge* edges);

// Signed distance of (x, y) to the convex polygon given by its edges: negative inside (minus the distance
// to the nearest edge), positive outside (the largest distance to an edge's line: exact near the edges, a
// mitred offset at the corners).
double wq_hull_distance(const wq_edge* edges, int n, double x, double y);

// Piecewise affine warp: for every triangle, the pixels of the region (ox, oy, ow, oh) of the destination
// that lie inside the triangle over `dst_pts` take `src` sampled (bilinear) at the same
// barycentric position in the triangle over `src_pts`. `out` is ow*oh*3 floats (RGB 0..255); covered[i]
// becomes 1 where a pixel was written (0 elsewhere, and where the sample fell outside `src`).
void wq_warp_triangles(const wq_image* src, const wq_point* src_pts, const wq_point* dst_pts,
                       const wq_triangle* tris, int ntri, int ox, int oy, int ow, int oh, float* out,
                       uint8_t* covered);

#ifdef __cplusplus
}
#endif

#endif  // WQ_WARP_H_
