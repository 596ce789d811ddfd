"""The LandscapeService calls of :class:`landsim_client.Client` (a mixin: the plumbing,
``_call`` / ``_unary`` and the stubs, is the client's own)."""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import numpy as np
from landsim_wire.arrays import assemble, from_ndarray, iter_encoded_chunks, to_ndarray
from landsim_wire.chunks import ChunkView
from landsim_wire.v1 import landscape_pb2 as pb

from .assemble import DescentRun, translate_stream, unbatch
from .errors import ResourceExhausted
from .records import Evaluation, Intersection, Landscape
from .requests import (
    MARGIN,
    create_landscape_request,
    descend_request,
    points,
    section_request,
)

__all__ = ["LandscapeCalls"]

_POINTS_FIELD = pb.StreamEvaluateRequest.DESCRIPTOR.fields_by_name["points"].number


class LandscapeCalls:
    """Landscapes: create, get, list, delete; evaluate, project, intersect, section,
    descend."""

    # ------------------------------------------------------------------ landscapes
    def create_landscape(self, spec=None, *, dim: int | None = None,
                         n_wedges: int | None = None, n_short: int | Sequence[int] = (),
                         kind: str = "axis", eps0: float | Sequence[float] = (),
                         eps1: float | Sequence[float] = (), anchor_scale: float = 0.0,
                         union: str = "hard", tau: float | None = None, seed: int = 0,
                         timeout: float | None = None) -> str:
        """Store a landscape; returns its (content-derived) id.

        Give either ``spec`` (a ``landsim.spec.LandscapeSpec`` or anything with its
        attributes, such as a :class:`~landsim_client.SpecRecord`; the ``to_dict()``
        form of either; or a ``landsim.v1.LandscapeSpec`` message) or the
        random-generator parameters ``dim``, ``n_wedges``, ``n_short`` (one value or K),
        ``kind``, ``eps0``, ``eps1`` (one value or K each; server defaults 0.0 and 0.05
        when omitted), ``anchor_scale``, ``union``, ``tau`` and ``seed`` (as
        ``landsim.spec.random_landscape``).
        """
        request = create_landscape_request(spec, dim, n_wedges, n_short, kind, eps0, eps1,
                                           anchor_scale, union, tau, seed)
        out = self._unary("CreateLandscape", self._landscapes.CreateLandscape, request,
                          idempotent=True, timeout=timeout)
        return out.id

    def get_landscape(self, landscape_id: str, include_spec: bool = False, *,
                      timeout: float | None = None) -> Landscape:
        """One stored landscape (with its full ``spec`` when ``include_spec``)."""
        msg = self._unary("GetLandscape", self._landscapes.GetLandscape,
                          pb.GetLandscapeRequest(id=landscape_id, include_spec=include_spec),
                          idempotent=True, timeout=timeout)
        return Landscape.from_proto(msg)

    def list_landscapes(self, page_size: int = 0, *, timeout: float | None = None
                        ) -> Iterator[Landscape]:
        """Every stored landscape, oldest first (fetched a page at a time)."""
        token = ""
        while True:
            page = self._unary("ListLandscapes", self._landscapes.ListLandscapes,
                               pb.ListLandscapesRequest(page_size=page_size, page_token=token),
                               idempotent=True, timeout=timeout)
            for msg in page.landscapes:
                yield Landscape.from_proto(msg)
            token = page.next_page_token
            if not token:
                return

    def delete_landscape(self, landscape_id: str, *, timeout: float | None = None) -> None:
        """Remove a stored landscape (NotFound if there is none)."""
        self._unary("DeleteLandscape", self._landscapes.DeleteLandscape,
                    pb.DeleteLandscapeRequest(id=landscape_id), idempotent=False,
                    timeout=timeout)

    # ------------------------------------------------------------------ evaluation
    def evaluate(self, landscape_id: str, X, gradient: bool = False,
                 wedge_losses: bool = False, *, timeout: float | None = None) -> Evaluation:
        """Loss, arg-min wedge and optionally gradients and per-wedge losses.

        Parameters
        ----------
        X : array, shape (B, D) or (D,), float64 or float32 (integers become float64)
        gradient, wedge_losses : bool
            Also return ``grad`` (B, D) / ``wedge_losses`` (B, K).

        Returns
        -------
        Evaluation
            Equal to ``landsim.geometry.evaluate`` on the same points; a (D,) input gives
            unbatched results. Batches too large for one message go through
            :meth:`stream_evaluate` automatically.
        """
        Xb, single = points(X)
        out_bytes = Xb.shape[0] * 16 + (Xb.nbytes if gradient else 0)
        if Xb.nbytes + MARGIN > self.max_message_bytes // 2 or \
                out_bytes + MARGIN > self.max_message_bytes // 2:
            return self.stream_evaluate(landscape_id, X, gradient, wedge_losses,
                                        timeout=timeout)
        request = pb.EvaluateRequest(landscape_id=landscape_id, points=to_ndarray(Xb),
                                     want_gradient=gradient, want_wedge_losses=wedge_losses)
        try:
            msg = self._unary("Evaluate", self._landscapes.Evaluate, request, idempotent=True,
                              timeout=timeout)
        except ResourceExhausted as exc:  # the server's message cap is below ours
            if "StreamEvaluate" not in exc.message and "larger than max" not in exc.message:
                raise
            return self.stream_evaluate(landscape_id, X, gradient, wedge_losses,
                                        timeout=timeout)
        ev = Evaluation(
            from_ndarray(msg.losses, "losses"), from_ndarray(msg.argmin, "argmin"),
            from_ndarray(msg.wedge_losses, "wedge_losses") if wedge_losses else None,
            from_ndarray(msg.gradients, "gradients") if gradient else None)
        return unbatch(ev) if single else ev

    def stream_evaluate(self, landscape_id: str, X, gradient: bool = False,
                        wedge_losses: bool = False, *, chunk_bytes: int | None = None,
                        timeout: float | None = None) -> Evaluation:
        """:meth:`evaluate` for batches of any size: the points go up in chunks of
        ``chunk_bytes`` (default: the client's) while results stream back.

        The server evaluates in fixed row blocks; each point's result has the same bits
        as one library call on the whole batch would give it.
        """
        Xb, single = points(X)
        size = self.chunk_bytes if chunk_bytes is None else int(chunk_bytes)
        row = Xb[0].nbytes
        if row <= size:  # whole rows: the server then evaluates them where they arrived
            size -= size % row
        header = pb.StreamEvaluateHeader(landscape_id=landscape_id, want_gradient=gradient,
                                         want_wedge_losses=wedge_losses)

        def requests():
            yield pb.StreamEvaluateRequest(header=header)
            yield from iter_encoded_chunks(_POINTS_FIELD, "points", Xb, size)

        def run(t: float) -> dict[str, np.ndarray]:
            call = self._stream_evaluate(requests(), timeout=t, metadata=self._metadata)
            try:
                return assemble(r if isinstance(r, ChunkView) else r.chunk for r in call)
            finally:
                call.cancel()

        arrays = self._call("StreamEvaluate", run, idempotent=True, timeout=timeout)
        ev = Evaluation(arrays["losses"], arrays["argmin"], arrays.get("wedge_losses"),
                        arrays.get("gradients"))
        return unbatch(ev) if single else ev

    # ------------------------------------------------------------------ geometry
    def project(self, landscape_id: str, X, *, wedge: int | None = None,
                intersection: Sequence[int] | None = None,
                timeout: float | None = None) -> np.ndarray:
        """Project points (B, D) onto wedge ``wedge`` or onto the intersection of the
        wedges ``intersection``; returns (B, D) float64."""
        if (wedge is None) == (intersection is None):
            raise ValueError("give exactly one of wedge and intersection")
        Xb, single = points(X)
        request = pb.ProjectRequest(landscape_id=landscape_id, points=to_ndarray(Xb))
        if wedge is not None:
            request.wedge = int(wedge)
        else:
            request.intersection.wedges.extend(int(k) for k in intersection)
        msg = self._unary("Project", self._landscapes.Project, request, idempotent=True,
                          timeout=timeout)
        Y = from_ndarray(msg.points, "points")
        return Y[0] if single else Y

    def intersect(self, landscape_id: str, wedges: Sequence[int], *,
                  radius: float | None = None, seed: int = 0,
                  timeout: float | None = None) -> Intersection:
        """Short/long dimension of the intersection of ``wedges`` and a point inside it at
        ``radius`` (default 1.0) from their shared anchor."""
        request = pb.IntersectRequest(landscape_id=landscape_id,
                                      wedges=[int(k) for k in wedges], seed=int(seed))
        if radius is not None:
            request.radius = float(radius)
        msg = self._unary("Intersect", self._landscapes.Intersect, request, idempotent=True,
                          timeout=timeout)
        return Intersection(
            short_count=int(msg.short_count), long_dim=int(msg.long_dim),
            expected_short_count=msg.expected_short_count,
            point=from_ndarray(msg.point, "point") if msg.HasField("point") else None,
            short_axes=from_ndarray(msg.short_axes, "short_axes")
            if msg.HasField("short_axes") else None)

    def section(self, landscape_id: str, kind: str, *, timeout: float | None = None,
                **params) -> dict[str, np.ndarray]:
        """The loss on a path or grid; returns the named result arrays.

        Kinds and their parameters (vectors have shape (D,)):

        - ``"line"``: ``a``, ``b``, and ``t`` (values in [0, 1]) or ``num_t`` (default 51)
          -> ``t``, ``loss``, ``excess``, ``barrier`` (scalar), ``argmax`` (scalar);
        - ``"chain"``: ``points`` (P, D), ``t`` or ``num_t`` -> as line;
        - ``"bezier"``: ``a``, ``control``, ``b``, ``t`` or ``num_t`` -> as line;
        - ``"simplex"``: ``vertices`` (m, D), ``resolution`` -> ``weights``, ``loss``;
        - ``"plane"``: ``origin``, ``d1``, ``d2``, and ``extent`` (1.0) with
          ``resolution`` (51), or explicit ``alpha`` and ``beta``; ``raw_directions``
          -> ``alpha``, ``beta``, ``e1``, ``e2``, ``loss`` (A, B);
        - ``"radial"``: ``origin``, ``d1``, ``d2``, ``radii``, ``angles`` (radians)
          -> ``radii``, ``angles``, ``e1``, ``e2``, ``loss`` (R, A).
        """
        request = section_request(landscape_id, kind, params)

        def run(t: float) -> dict[str, np.ndarray]:
            call = self._landscapes.Section(request, timeout=t, metadata=self._metadata)
            try:
                return assemble(response.chunk for response in call)
            finally:
                call.cancel()

        return self._call("Section", run, idempotent=True, timeout=timeout)

    def descend(self, landscape_id: str, x0=None, *, radius: float | None = None,
                n: int | None = None, init_seed: int = 0, optimizer: str = "gd",
                seed: int = 0, timeout: float | None = None, **options) -> DescentRun:
        """Run an optimiser on a batch of independent runs.

        Give the starting points ``x0`` (B, D), or ``radius`` and ``n`` for n points
        uniform on a sphere (seeded by ``init_seed``). ``options`` are the optional fields
        of ``DescentOptions``: ``lr``, ``steps``, ``noise_std``, ``momentum``, ``beta1``,
        ``beta2``, ``eps``, ``l2``, ``target_loss``, ``record_every`` (absent: the
        library's defaults). ``seed`` seeds the gradient noise.

        Returns
        -------
        DescentRun
            Iterate it for the trajectory records as they stream in; its ``final`` dict
            holds the final arrays afterwards. The call is not retried.
        """
        request = descend_request(landscape_id, x0, radius, n, init_seed, optimizer, seed,
                                  options)
        call = self._landscapes.Descend(
            request, timeout=self.timeout if timeout is None else timeout,
            metadata=self._metadata)
        return DescentRun(translate_stream(call, "Descend"))
