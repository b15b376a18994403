/* throwaway: gss-ntlmssp initiator in datagram mode, fed a crafted CHALLENGE */
#include <gssapi/gssapi.h>
#include <gssapi/gssapi_ext.h>
#include <gssapi/gssapi_krb5.h>
#include <gssapi/gssapi_ntlmssp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
static void hex(const char *n, const void *p, size_t l){ printf("%s=",n); for(size_t i=0;i<l;i++) printf("%02x",((const unsigned char*)p)[i]); printf("\n"); }
static void die(const char *w, OM_uint32 maj, OM_uint32 min){
  OM_uint32 m2, ctx=0; gss_buffer_desc b; fprintf(stderr,"%s failed %x/%x\n",w,maj,min);
  do { gss_display_status(&m2,maj,GSS_C_GSS_CODE,GSS_C_NO_OID,&ctx,&b); fprintf(stderr," %.*s\n",(int)b.length,(char*)b.value); gss_release_buffer(&m2,&b);} while(ctx);
  ctx=0; do { gss_display_status(&m2,min,GSS_C_MECH_CODE,GSS_C_NO_OID,&ctx,&b); fprintf(stderr," %.*s\n",(int)b.length,(char*)b.value); gss_release_buffer(&m2,&b);} while(ctx);
  exit(1);}
int main(int argc, char **argv){
  /* argv[1] = challenge hex, argv[2] = file with buffer to sign, argv[3] flags override hex (optional) */
  const char *ch = argv[1]; size_t cl = strlen(ch)/2; unsigned char *c = malloc(cl);
  for(size_t i=0;i<cl;i++){ unsigned v; sscanf(ch+2*i,"%2x",&v); c[i]=v; }
  if (argc > 3) { unsigned long f = strtoul(argv[3],NULL,16); c[20]=f; c[21]=f>>8; c[22]=f>>16; c[23]=f>>24; }
  gss_OID_desc mech = { GSS_NTLMSSP_OID_LENGTH, GSS_NTLMSSP_OID_STRING };
  gss_OID_set_desc mechs = { 1, &mech };
  OM_uint32 maj, min;
  gss_name_t user, target;
  gss_buffer_desc un = { strlen("COSMO\\User"), "COSMO\\User" };
  maj = gss_import_name(&min, &un, GSS_C_NT_USER_NAME, &user); if (maj) die("import user", maj, min);
  gss_buffer_desc tn = { strlen("sip@server"), "sip@server" };
  maj = gss_import_name(&min, &tn, GSS_C_NT_HOSTBASED_SERVICE, &target); if (maj) die("import target", maj, min);
  gss_cred_id_t cred;
  gss_buffer_desc pw = { strlen("Pa$$word"), "Pa$$word" };
  maj = gss_acquire_cred_with_password(&min, user, &pw, GSS_C_INDEFINITE, &mechs, GSS_C_INITIATE, &cred, NULL, NULL);
  if (maj) die("acquire", maj, min);
  gss_ctx_id_t ctx = GSS_C_NO_CONTEXT;
  gss_buffer_desc in = { cl, c }, out = { 0, NULL };
  OM_uint32 rf;
  maj = gss_init_sec_context(&min, cred, &ctx, target, &mech, GSS_C_INTEG_FLAG | GSS_C_DATAGRAM_FLAG | GSS_C_IDENTIFY_FLAG,
                             0, NULL, &in, NULL, &out, &rf, NULL);
  if (GSS_ERROR(maj)) die("init", maj, min);
  hex("challenge", c, cl);
  hex("authenticate", out.value, out.length);
  gss_buffer_set_t ks = NULL;
  maj = gss_inquire_sec_context_by_oid(&min, ctx, GSS_C_INQ_SSPI_SESSION_KEY, &ks);
  if (maj) die("inq key", maj, min);
  hex("esk", ks->elements[0].value, ks->elements[0].length);
  FILE *f = fopen(argv[2], "rb"); static unsigned char buf[65536]; size_t bl = fread(buf,1,sizeof buf,f); fclose(f);
  gss_OID_desc seqoid = { GSS_NTLMSSP_SET_SEQ_NUM_OID_LENGTH, GSS_NTLMSSP_SET_SEQ_NUM_OID_STRING };
  uint32_t seq = 100; gss_buffer_desc sv = { 4, &seq };
  maj = gss_set_sec_context_option(&min, &ctx, &seqoid, &sv); if (maj) die("seq", maj, min);
  gss_buffer_desc msg = { bl, buf }, mic;
  maj = gss_get_mic(&min, ctx, 0, &msg, &mic); if (maj) die("mic", maj, min);
  hex("mic_client", mic.value, mic.length);
  return 0;
}
