"""ConfigService: candidate, diff, commit, rollback, save, history."""

from __future__ import annotations

import os

from ..config.dump import to_yaml
from ..core.errors import FailedPrecondition, InvalidArgument
from ..v1 import config_pb2 as pb
from ..v1 import config_pb2_grpc as pb_grpc
from . import register
from .base import rpc


@register(pb_grpc.add_ConfigServiceServicer_to_server)
class ConfigService(pb_grpc.ConfigServiceServicer):
    def __init__(self, app) -> None:
        self.engine = app.engine

    @rpc
    def Show(self, request, context):
        if request.candidate:
            if self.engine.candidate is None:
                raise FailedPrecondition("no candidate configuration is loaded")
            return pb.ConfigShowResponse(yaml=to_yaml(self.engine.candidate))
        return pb.ConfigShowResponse(yaml=to_yaml(self.engine.running_config()))

    @rpc
    def Load(self, request, context):
        return pb.ConfigLoadResponse(diff=self.engine.load_candidate(request.yaml, request.source))

    @rpc
    def Diff(self, request, context):
        d = self.engine.diff_text()
        return pb.ConfigDiffResponse(diff=d, empty=not d)

    @rpc
    def Commit(self, request, context):
        version, d = self.engine.commit(request.yaml or None, request.source, request.comment)
        return pb.ConfigCommitResponse(version=version, diff=d)

    @rpc
    def Rollback(self, request, context):
        version, d = self.engine.rollback(request.version)
        return pb.ConfigRollbackResponse(version=version, diff=d)

    @rpc
    def Save(self, request, context):
        path = request.path
        if path:
            if "\0" in path:
                raise InvalidArgument("path: contains a NUL byte")
            if not os.path.isabs(path):
                raise InvalidArgument(f"path: {path[:200]!r} is not absolute (it names a "
                                      "file of the router, not of the client)")
        try:
            return pb.ConfigSaveResponse(path=self.engine.save(path or None))
        except OSError as e:
            raise FailedPrecondition(f"path: cannot write {(path or e.filename or '')[:200]}: "
                                     f"{e.strerror}") from None

    @rpc
    def History(self, request, context):
        e = self.engine
        with e.lock:
            return pb.ConfigHistoryResponse(versions=[
                pb.ConfigVersion(version=v.number, timestamp=v.timestamp, comment=v.comment,
                                 running=v.number == e.version) for v in e.history])
